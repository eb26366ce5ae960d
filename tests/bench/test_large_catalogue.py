"""The generated large catalogue of bench/large_catalogue.py: shape, determinism, structure."""

import importlib.util

import numpy as np
import pytest

from tests.paths import REPO_ROOT


@pytest.fixture(scope="module")
def catalogue():
    spec = importlib.util.spec_from_file_location(
        "large_catalogue", REPO_ROOT / "bench" / "large_catalogue.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL = dict(num_items=2_000, num_users=500, category_size=100, seed=3)


def test_histories_are_deterministic_and_in_range(catalogue):
    lengths, items = catalogue.generate_histories(**SMALL)
    again_lengths, again_items = catalogue.generate_histories(**SMALL)

    assert np.array_equal(lengths, again_lengths) and np.array_equal(items, again_items)
    assert lengths.min() >= 3 and lengths.max() <= 20 and len(items) == lengths.sum()
    assert items.min() >= 0 and items.max() < SMALL["num_items"]


def test_consecutive_items_mostly_share_a_category(catalogue):
    """The planted signal: the next item comes from the user's interest, not from anywhere."""
    lengths, items = catalogue.generate_histories(**SMALL)
    # undo the id shuffle to read categories: regenerate the permutation of the same seed
    names = np.random.default_rng(SMALL["seed"]).permutation(SMALL["num_items"])
    position = np.empty_like(names)
    position[names] = np.arange(len(names))
    categories = position[items] // SMALL["category_size"]
    same_user = np.repeat(np.arange(len(lengths)), lengths)
    pairs = same_user[1:] == same_user[:-1]
    same_category = (categories[1:] == categories[:-1])[pairs].mean()

    chance = 1 / (SMALL["num_items"] // SMALL["category_size"])  # 0.05
    assert same_category > 0.5 and same_category > 10 * chance


def test_popularity_is_heavy_tailed(catalogue):
    _, items = catalogue.generate_histories(**SMALL)
    counts = np.sort(np.bincount(items, minlength=SMALL["num_items"]))[::-1]

    # the most popular tenth of the catalogue: over 3x its uniform share of the interactions
    assert counts[: len(counts) // 10].sum() > 0.3 * counts.sum()


def test_sasrec_lines_are_one_based_user_item_pairs(catalogue, tmp_path):
    path = tmp_path / "events.txt"
    catalogue.write_sasrec(path, np.array([2, 1]), np.array([0, 5, 7]))

    assert path.read_text().split("\n")[:3] == ["1 1", "1 6", "2 8"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_items": 150}, "multiple of category_size"),
        ({"min_length": 5, "max_length": 4}, "1 <= min_length <= max_length"),
        ({"exponent": 0.0}, "exponent > 0"),
    ],
)
def test_bad_arguments_are_refused(catalogue, overrides, message):
    with pytest.raises(ValueError, match=message):
        catalogue.generate_histories(**{**SMALL, **overrides})
