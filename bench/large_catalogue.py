"""A generated catalogue of 1,000,000 items for the recommender's defaults (issue 23).

Writes a SASRec-format log (`user item` lines, each user's lines in time order) that
`bench/recommender_defaults.py --input ... --format sasrec` runs through the whole path
(pipeline, default training under the time budget, evaluation beside the baselines).

The structure is the one a large shop has and a transition table cannot see:

- items fall into categories (`items / category_size` of them); category popularity and item
  popularity within a category are both Zipf, so overall popularity is heavy-tailed (exponent
  0.7: 614,996 of the million items occur among the 2.3M interactions of the default seed, so
  the model's vocabulary is that large, not only the head);
- each user has one or two categories of interest (drawn by category popularity) and a history
  of 3 to 20 interactions; each interaction is drawn from the user's current interest by item
  popularity, and the interest switches to the user's other one with probability `switch`;
- with probability `noise` an interaction is any item, drawn by global popularity.

The next item is predictable from *which categories the history is about*, not from the last
item: among a million items almost every (last item, next item) pair occurs once or never, so a
first-order Markov chain mostly falls back to popularity, while a model that embeds items can
learn that items of one category follow each other.

    .venv/bin/python bench/large_catalogue.py --output bench/work/large_catalogue/events.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def zipf_probabilities(count: int, exponent: float) -> np.ndarray:
    """`(count,)` probabilities proportional to `1 / rank**exponent` (rank 1 first)."""
    if count < 1 or exponent <= 0:
        raise ValueError(
            f"Expected count >= 1 and exponent > 0. Received: count={count}, exponent={exponent}"
        )
    weights = 1.0 / np.arange(1, count + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


def generate_histories(
    num_items: int = 1_000_000,
    num_users: int = 200_000,
    category_size: int = 100,
    min_length: int = 3,
    max_length: int = 20,
    switch: float = 0.2,
    noise: float = 0.1,
    exponent: float = 0.7,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Users' histories as `(lengths (U,), items (sum of lengths,))`, item ids `0..num_items-1`.

    Item `i` belongs to category `i // category_size`; item ids are shuffled across the catalogue
    so that an id says nothing about popularity.
    """
    if num_items % category_size:
        raise ValueError(
            "Expected num_items to be a multiple of category_size. Received: "
            f"num_items={num_items}, category_size={category_size}"
        )
    if not 1 <= min_length <= max_length:
        raise ValueError(
            f"Expected 1 <= min_length <= max_length. Received: {min_length}, {max_length}"
        )
    rng = np.random.default_rng(seed)
    num_categories = num_items // category_size
    category_popularity = zipf_probabilities(num_categories, exponent)
    within = zipf_probabilities(category_size, exponent)
    item_popularity = np.outer(category_popularity, within).reshape(-1)
    item_names = rng.permutation(num_items)  # position -> published item id

    lengths = rng.integers(min_length, max_length + 1, size=num_users)
    total = int(lengths.sum())
    user_of = np.repeat(np.arange(num_users), lengths)
    interests = rng.choice(num_categories, size=(num_users, 2), p=category_popularity)
    # the current interest: 0 or 1, flipping with probability `switch` at each step of a user
    flips = rng.random(total) < switch
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    flips[starts] = False
    flip_count = np.cumsum(flips)
    current = (flip_count - flip_count[starts][user_of]) % 2
    categories = interests[user_of, current]
    positions = categories * category_size + rng.choice(category_size, size=total, p=within)
    noisy = rng.random(total) < noise
    positions[noisy] = rng.choice(num_items, size=int(noisy.sum()), p=item_popularity)
    return lengths, item_names[positions]


def write_sasrec(path: Path, lengths: np.ndarray, items: np.ndarray) -> None:
    """`user item` lines (1-based ids, as the SASRec files), each user's in history order."""
    users = np.repeat(np.arange(1, len(lengths) + 1), lengths)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([users, items + 1]), fmt="%d", delimiter=" ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    lengths, items = generate_histories(arguments.items, arguments.users, seed=arguments.seed)
    write_sasrec(arguments.output, lengths, items)
    print(
        f"{arguments.output}: {len(lengths):,} users, {len(np.unique(items)):,} distinct items "
        f"of {arguments.items:,}, {len(items):,} interactions"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
