"""A generated shop catalogue: items with readable titles, categories and planted relations.

Every item has a title a person can read ("Trail running shoes, size 42"), a category
("Running"), a base popularity (Zipf) that drifts over the covered period, and three planted
relations the event generator (`seqlens.synthetic.behaviour`) uses:

- **complement**: the partner category's matching product line, bought some steps after this
  item (an inkjet printer, then an ink cartridge: a long-range dependency);
- **successor**: the next volume of a series (volume 2 after volume 1), a first-order rule a
  Markov chain can learn;
- **consumable**: items people buy again (coffee, pet food, ink): repeat consumption.

`write_items_csv` writes the `items` log of the data contracts (`item_id,title,category`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# category -> (product lines, variants, consumable). Categories come in partner pairs
# (0-1, 2-3, ...): an item's complement lies in the partner category.
CATEGORIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], bool], ...] = (
    (
        "Running",
        ("Trail running shoes", "Road running shoes", "Running jacket", "Compression tights"),
        ("size 38", "size 40", "size 42", "size 44", "size 46", "size 48"),
        False,
    ),
    (
        "Sports nutrition",
        ("Energy gel", "Electrolyte tablets", "Protein bar", "Recovery shake"),
        ("lemon", "berry", "salted caramel", "cola", "vanilla", "mango"),
        True,
    ),
    (
        "Cameras",
        ("Mirrorless camera", "Compact camera", "Action camera", "Instant camera"),
        ("black", "silver", "body only", "kit with 24mm lens", "kit with 50mm lens", "vlog kit"),
        False,
    ),
    (
        "Camera accessories",
        ("Camera strap", "Lens hood", "SD card", "Spare battery"),
        ("type A", "type B", "type C", "64 GB", "128 GB", "256 GB"),
        False,
    ),
    (
        "Game consoles",
        ("Home console", "Handheld console", "Retro console", "Console controller"),
        ("white", "black", "limited edition", "bundle", "refurbished", "pro edition"),
        False,
    ),
    (
        "Video games",
        ("Space saga", "Kart racer", "Farm life", "Dungeon crawler"),
        ("part 1", "part 2", "part 3", "part 4", "part 5", "part 6"),
        False,
    ),
    (
        "Printers",
        ("Inkjet printer", "Laser printer", "Photo printer", "Label printer"),
        ("home", "office", "wireless", "duplex", "compact", "all-in-one"),
        False,
    ),
    (
        "Printer supplies",
        ("Ink cartridge", "Toner", "Photo paper", "Label roll"),
        ("black", "cyan", "magenta", "yellow", "tri-colour", "XL pack"),
        True,
    ),
    (
        "Coffee machines",
        ("Espresso machine", "Filter coffee maker", "Pod machine", "Coffee grinder"),
        ("steel", "black", "red", "compact", "dual boiler", "with milk frother"),
        False,
    ),
    (
        "Coffee",
        ("Single-origin beans", "Espresso blend", "Decaf beans", "Coffee pods"),
        ("Ethiopia, 250 g", "Colombia, 250 g", "Brazil, 1 kg", "Kenya, 500 g", "house, 1 kg"),
        True,
    ),
    (
        "Books",
        ("The Glass Kingdom saga", "Detective Moreau mysteries", "Starship Hesper series"),
        ("volume 1", "volume 2", "volume 3", "volume 4", "volume 5", "volume 6", "volume 7"),
        False,
    ),
    (
        "Reading",
        ("Reading light", "Leather bookmark", "Book stand", "E-reader cover"),
        ("clip-on", "warm white", "oak", "walnut", "slim", "travel size"),
        False,
    ),
    (
        "Pets",
        ("Dog bed", "Cat tree", "Pet carrier", "Dog leash"),
        ("small", "medium", "large", "grey", "blue", "extendable"),
        False,
    ),
    (
        "Pet food",
        ("Dry dog food", "Wet cat food", "Puppy food", "Dental chews"),
        ("chicken, 2 kg", "salmon, 2 kg", "lamb, 4 kg", "beef, 12-pack", "turkey, 6-pack"),
        True,
    ),
    (
        "Cycling",
        ("Road bike", "Gravel bike", "City bike", "Mountain bike"),
        ("frame 52", "frame 54", "frame 56", "frame 58", "carbon", "aluminium"),
        False,
    ),
    (
        "Bike parts",
        ("Inner tube", "Bike chain", "Brake pads", "Tyre"),
        ("700x25c", "700x28c", "29 inch", "11-speed", "disc", "rim"),
        False,
    ),
    (
        "Camping",
        ("Two-person tent", "Sleeping bag", "Camping stove", "Trekking poles"),
        ("ultralight", "three-season", "winter", "family size", "green", "orange"),
        False,
    ),
    (
        "Outdoor clothing",
        ("Rain jacket", "Fleece", "Hiking boots", "Merino base layer"),
        ("size S", "size M", "size L", "size XL", "women's M", "men's L"),
        False,
    ),
    (
        "Smartphones",
        ("Smartphone", "Foldable phone", "Rugged phone", "Budget phone"),
        ("128 GB", "256 GB", "512 GB", "midnight", "sage", "coral"),
        False,
    ),
    (
        "Phone accessories",
        ("Phone case", "Screen protector", "Fast charger", "Wireless earbuds"),
        ("clear", "black", "leather", "20 W", "65 W", "noise cancelling"),
        False,
    ),
)


SERIES_CATEGORIES = ("Books", "Video games")


@dataclass(frozen=True)
class Catalogue:
    """Items and their planted relations; arrays are indexed by item number.

    Attributes:
        item_ids: `i00000`, `i00001`, ... (the strings the event log uses).
        titles: readable titles, unique.
        category_names: the category of each item.
        category: category number of each item, `(num_items,)`.
        category_items: the items of each category.
        early_popularity / late_popularity: popularity at the start and the end of the covered
            period, `(num_items,)` each summing to 1 (the generator interpolates: drift).
        line: the product line of each item inside its category, `(num_items,)`.
        complement_items: `complement_items[c][l]`: the items that complement line `l` of
            category `c` (the partner category's line of the same number: inkjet printer -> ink
            cartridge, laser printer -> toner).
        successor: the next volume of a series (books, video games), else -1, `(num_items,)`.
        consumable: items that are bought again, `(num_items,)` booleans.
    """

    item_ids: tuple[str, ...]
    titles: tuple[str, ...]
    category_names: tuple[str, ...]
    category: np.ndarray
    category_items: tuple[np.ndarray, ...]
    early_popularity: np.ndarray
    late_popularity: np.ndarray
    line: np.ndarray
    complement_items: tuple[tuple[np.ndarray, ...], ...]
    successor: np.ndarray
    consumable: np.ndarray

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def complements(self, item: int) -> np.ndarray:
        """The items that complement `item` (a line of the partner category)."""
        return self.complement_items[int(self.category[item])][int(self.line[item])]

    def popularity(self, progress: float) -> np.ndarray:
        """Item popularity at `progress` in [0, 1] of the covered period, `(num_items,)`."""
        return (1.0 - progress) * self.early_popularity + progress * self.late_popularity


def _zipf(count: int, exponent: float = 1.0) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


def _category_titles(index: int, count: int) -> list[str]:
    """`count` unique titles of category `index`: product line x variant, in line order."""
    _, lines, variants, _ = CATEGORIES[index]
    titles = [f"{line}, {variant}" for line in lines for variant in variants]
    for round_number in range(2, 2 + count // max(1, len(titles))):
        titles += [
            f"{line}, {variant} (gen {round_number})" for line in lines for variant in variants
        ]
    return titles[:count]


def build_catalogue(num_items: int, rng: np.random.Generator) -> Catalogue:
    """A catalogue of `num_items` items over an even number of categories (at least 4).

    Args:
        num_items: catalogue size, at least 20.
        rng: the generator's random state (consumed deterministically).
    """
    if num_items < 20:
        raise ValueError(f"Expected num_items >= 20. Received: num_items={num_items}")
    num_categories = int(min(len(CATEGORIES), max(4, num_items // 30)))
    num_categories -= num_categories % 2
    sizes = np.full(num_categories, num_items // num_categories)
    sizes[: num_items % num_categories] += 1
    titles: list[str] = []
    category = np.repeat(np.arange(num_categories), sizes)
    line = np.empty(num_items, dtype=np.int64)
    successor = np.full(num_items, -1, dtype=np.int64)
    start = 0
    for index, size in enumerate(sizes):
        members = np.arange(start, start + size)
        titles += _category_titles(index, int(size))
        _, lines, variants, _ = CATEGORIES[index]
        line[members] = (np.arange(size) // len(variants)) % len(lines)
        if CATEGORIES[index][0] in SERIES_CATEGORIES:
            # volume n -> volume n + 1 (titles are in line order); a line's last -> next line
            successor[members] = start + (np.arange(size) + 1) % size
        start += int(size)
    category_items = tuple(np.flatnonzero(category == c) for c in range(num_categories))
    complement_items = []
    for c in range(num_categories):
        partner = category_items[c ^ 1]  # line l of category c -> line l of its partner
        partner_lines = int(line[partner].max()) + 1
        complement_items.append(
            tuple(
                partner[line[partner] == line_index % partner_lines]
                for line_index in range(len(CATEGORIES[c][1]))
            )
        )
    early = np.empty(num_items)
    late = np.empty(num_items)
    for members in category_items:
        early[members] = _zipf(len(members))[rng.permutation(len(members))]
        # drift: a third of each category's ranks are reshuffled by the end of the period
        late_rank = rng.permutation(len(members))
        keep = rng.random(len(members)) < 0.66
        late[members] = np.where(keep, early[members], _zipf(len(members))[late_rank])
    category_share = rng.dirichlet(np.full(num_categories, 4.0))
    for c, members in enumerate(category_items):
        early[members] *= category_share[c] / early[members].sum()
        late[members] *= category_share[c] / late[members].sum()
    return Catalogue(
        item_ids=tuple(f"i{item:05d}" for item in range(num_items)),
        titles=tuple(titles),
        category_names=tuple(CATEGORIES[int(c)][0] for c in category),
        category=category,
        category_items=category_items,
        early_popularity=early / early.sum(),
        late_popularity=late / late.sum(),
        line=line,
        complement_items=tuple(complement_items),
        successor=successor,
        consumable=np.array([CATEGORIES[int(c)][3] for c in category]),
    )


def write_items_csv(path: str | Path, catalogue: Catalogue) -> Path:
    """Write `item_id,title,category`, one row per item (the data contracts' items log)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "category"])
        for row in zip(catalogue.item_ids, catalogue.titles, catalogue.category_names, strict=True):
            writer.writerow(row)
    return path
