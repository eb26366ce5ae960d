"""The generated catalogue and behaviour: readable items, and the planted structures are there."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from seqlens.synthetic.behaviour import BehaviourConfig, user_events
from seqlens.synthetic.catalogue import build_catalogue, write_items_csv


@pytest.fixture(scope="module")
def catalogue():
    return build_catalogue(240, np.random.default_rng(0))


@pytest.fixture(scope="module")
def histories(catalogue):
    rng = np.random.default_rng(1)
    config = BehaviourConfig()
    return [
        [item for item, _, _ in user_events(catalogue, config, 40, 1_704_067_200, rng)]
        for _ in range(300)
    ]


def test_items_have_unique_readable_titles_and_categories(catalogue, tmp_path):
    path = write_items_csv(tmp_path / "items.csv", catalogue)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["item_id", "title", "category"]
    assert len(rows) == 241
    titles = [row[1] for row in rows[1:]]
    assert len(set(titles)) == len(titles)
    assert rows[1] == ["i00000", "Trail running shoes, size 38", "Running"]
    assert len({row[2] for row in rows[1:]}) == 8


def test_complements_are_planted_at_the_gap(catalogue, histories):
    gap = BehaviourConfig().long_range_gap

    def complement_rate(offset: int) -> float:
        hits = total = 0
        for items in histories:
            for position in range(offset, len(items)):
                anchor, item = items[position - offset], items[position]
                if catalogue.consumable[anchor]:
                    continue
                total += 1
                hits += item in set(catalogue.complements(anchor).tolist())
        return hits / total

    at_gap = complement_rate(gap)
    # far more than at the neighbouring offsets, where only chance and session intent contribute
    assert at_gap > 0.5
    for offset in (1, gap - 2, gap + 3):
        assert at_gap > 2.5 * complement_rate(offset), offset


def test_consumables_are_bought_again(catalogue, histories):
    repeats = sum(
        len(items) - len(set(items)) for items in histories if catalogue.consumable[items].any()
    )
    assert repeats / sum(len(items) for items in histories) > 0.15


def test_series_volumes_follow_each_other(catalogue):
    games = [i for i, name in enumerate(catalogue.category_names) if name == "Video games"]
    assert games, "the 240-item catalogue has the video games category"
    first = games[0]
    assert catalogue.titles[first].endswith("part 1")
    assert catalogue.titles[int(catalogue.successor[first])].endswith("part 2")


def test_popularity_drifts_and_sums_to_one(catalogue):
    assert catalogue.popularity(0.0).sum() == pytest.approx(1.0)
    assert catalogue.popularity(1.0).sum() == pytest.approx(1.0)
    assert not np.allclose(catalogue.early_popularity, catalogue.late_popularity)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"repeat_rate": 1.5}, "repeat_rate"),
        ({"long_range_gap": 0}, "long_range_gap"),
        ({"repeat_rate": 0.5, "successor_rate": 0.4, "noise_rate": 0.2}, "noise_rate=0.2"),
        ({"mean_session_length": 0.5}, "mean_session_length"),
    ],
)
def test_behaviour_config_rejects_bad_values(settings, message):
    with pytest.raises(ValueError, match=f"Received: .*{message}"):
        BehaviourConfig(**settings)


def test_catalogue_rejects_a_tiny_catalogue():
    with pytest.raises(ValueError, match="Received: num_items=5"):
        build_catalogue(5, np.random.default_rng(0))
