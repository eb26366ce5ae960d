import csv
import json

import pytest

from seqlens.synthetic.generator import GenerateConfig, generate

SMALL = dict(num_users=60, num_items=40, num_days=10, num_chats=50, num_tickers=4, num_episodes=2)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_generate_is_deterministic_under_a_seed(tmp_path):
    first = generate(tmp_path / "a", GenerateConfig(**SMALL, seed=7))
    second = generate(tmp_path / "b", GenerateConfig(**SMALL, seed=7))
    for name in ("events", "news", "chats", "episodes", "items"):
        assert first[name].read_bytes() == second[name].read_bytes()
    third = generate(tmp_path / "c", GenerateConfig(**SMALL, seed=8))
    assert first["events"].read_bytes() != third["events"].read_bytes()


def test_items_file_names_every_item_of_the_events(tmp_path):
    paths = generate(tmp_path, GenerateConfig(**SMALL, corrupt_fraction=0.0))
    items = _rows(paths["items"])
    assert items[0] == ["item_id", "title", "category"]
    titles = {row[0]: row[1] for row in items[1:]}
    assert len(titles) == SMALL["num_items"]
    assert {row[1] for row in _rows(paths["events"])[1:]} <= set(titles)
    assert all(title and not title.startswith("i0") for title in titles.values())


def test_news_has_planted_episodes_and_labels(tmp_path):
    paths = generate(tmp_path, GenerateConfig(**SMALL, corrupt_fraction=0.0))
    episodes = json.loads(paths["episodes"].read_text())
    assert len(episodes) == 2
    labels = {row[6] for row in _rows(paths["news"])[1:]}
    assert labels == {"negative", "neutral", "positive"}


def test_corrupt_rows_are_mixed_in(tmp_path):
    paths = generate(tmp_path, GenerateConfig(**SMALL, corrupt_fraction=0.05))
    rows = _rows(paths["events"])[1:]
    malformed = [
        r for r in rows if len(r) != 5 or not r[0] or not r[2].isdigit() or r[2] == "99999999999"
    ]
    assert len(malformed) == int(len(rows) * 0.05)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_users", 0, "num_users"),
        ("num_items", 5, "num_items"),
        ("corrupt_fraction", 0.7, "corrupt_fraction"),
        ("num_tickers", 99, "num_tickers"),
    ],
)
def test_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=f"Received: {message}"):
        GenerateConfig(**{field: value})
