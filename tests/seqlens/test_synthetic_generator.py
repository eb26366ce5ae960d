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
    for name in ("events", "news", "chats", "episodes"):
        assert first[name].read_bytes() == second[name].read_bytes()
    third = generate(tmp_path / "c", GenerateConfig(**SMALL, seed=8))
    assert first["events"].read_bytes() != third["events"].read_bytes()


def test_events_have_sequential_structure(tmp_path):
    paths = generate(tmp_path, GenerateConfig(**SMALL, corrupt_fraction=0.0))
    rows = _rows(paths["events"])[1:]
    transitions, repeats = {}, 0
    for previous, current in zip(rows, rows[1:], strict=False):
        if previous[0] == current[0]:
            transitions.setdefault(previous[1], []).append(current[1])
            repeats += previous[1] == current[1]
    # the most frequent successor of an item explains far more than chance (1/40)
    explained = sum(max(nexts.count(n) for n in set(nexts)) for nexts in transitions.values())
    total = sum(len(nexts) for nexts in transitions.values())
    assert explained / total > 0.5
    assert repeats / total < 0.2


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
