"""Generated shopping behaviour: event sequences with the structure real logs have.

Each user has a few interests (categories) that drift: at a new session one of them may be
replaced. A session has an intent (one of the current interests) and most of its items come from
that category, by a popularity that itself drifts over the covered period. On top of that:

- **long-range dependencies**: after some items the user buys the item's complement exactly
  `long_range_gap` events later (a printer, then, six events later, its ink), whatever came in
  between; a first-order Markov chain cannot see it, attention over the history can;
- **repeat consumption**: consumables (coffee, pet food, ink) already bought are bought again;
- **successors**: the next item of a product line (volume 2 after volume 1), a first-order rule;
- **noise**: a share of items drawn from the whole catalogue by popularity.

`BehaviourConfig` holds the rates; `generate_events` returns rows of the events log.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlens.synthetic.catalogue import Catalogue

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class BehaviourConfig:
    """Rates of the planted behaviours (each a probability per event unless said otherwise).

    Args:
        num_interests: interests (categories) per user.
        interest_drift: probability that a new session replaces one interest by another.
        mean_session_length: mean events per session.
        complement_rate: probability that a non-consumable item plants its complement.
        long_range_gap: events between an item and its planted complement.
        repeat_rate: probability of buying again a consumable bought before (when there is one).
        successor_rate: probability that the next item is the previous item's successor.
        noise_rate: probability of an item drawn from the whole catalogue.
        active_days: days the event log covers: users start in its first two thirds, and item
            popularity drifts from its early to its late mix across it.
    """

    num_interests: int = 3
    interest_drift: float = 0.12
    mean_session_length: float = 5.0
    complement_rate: float = 0.8
    long_range_gap: int = 6
    repeat_rate: float = 0.25
    successor_rate: float = 0.1
    noise_rate: float = 0.05
    active_days: int = 45

    def __post_init__(self) -> None:
        rates = ("interest_drift", "complement_rate", "repeat_rate", "successor_rate", "noise_rate")
        for name in rates:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Expected {name} in [0, 1]. Received: {name}={value!r}")
        if self.repeat_rate + self.successor_rate + self.noise_rate > 1.0:
            raise ValueError(
                "Expected repeat_rate + successor_rate + noise_rate <= 1. Received: "
                f"repeat_rate={self.repeat_rate}, successor_rate={self.successor_rate}, "
                f"noise_rate={self.noise_rate}"
            )
        for name in ("num_interests", "long_range_gap", "active_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive int. Received: {name}={value!r}"
                )
        if self.mean_session_length < 1:
            raise ValueError(
                "Expected mean_session_length >= 1. "
                f"Received: mean_session_length={self.mean_session_length}"
            )


def _draw(rng: np.random.Generator, members: np.ndarray, weights: np.ndarray) -> int:
    cumulative = np.cumsum(weights)
    position = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return int(members[min(position, len(members) - 1)])


def user_events(
    catalogue: Catalogue,
    config: BehaviourConfig,
    length: int,
    start_timestamp: int,
    rng: np.random.Generator,
    period_start: int | None = None,
) -> list[tuple[int, int, str]]:
    """One user's events `(item, timestamp, event_type)`, in time order.

    Args:
        catalogue: the items and their relations.
        config: the behaviour rates.
        length: number of events.
        start_timestamp: Unix seconds of the first event.
        rng: random state.
        period_start: Unix seconds where the popularity drift starts (default: the first event).
    """
    num_categories = len(catalogue.category_items)
    period_seconds = config.active_days * DAY_SECONDS
    first_timestamp = start_timestamp if period_start is None else period_start
    interests = list(rng.choice(num_categories, size=min(config.num_interests, num_categories)))
    pending: dict[int, int] = {}  # position -> the item whose complement is due
    bought_consumables: list[int] = []
    events: list[tuple[int, int, str]] = []
    timestamp = start_timestamp
    session_left = 0
    intent = interests[0]
    previous = -1
    for step in range(length):
        if session_left == 0:
            if step:
                timestamp += int(rng.integers(3_600, 3 * DAY_SECONDS))
            if rng.random() < config.interest_drift:
                interests[int(rng.integers(0, len(interests)))] = int(rng.integers(num_categories))
            intent = interests[int(rng.integers(0, len(interests)))]
            session_left = 1 + int(rng.geometric(1.0 / config.mean_session_length))
        elif step:
            timestamp += int(rng.integers(5, 600))
        session_left -= 1
        progress = min(1.0, (timestamp - first_timestamp) / period_seconds)
        event_type = "view"
        if step in pending:
            members = catalogue.complements(pending.pop(step))
            weights = (1.0 - progress) * catalogue.early_popularity[members]
            item = _draw(rng, members, weights + progress * catalogue.late_popularity[members])
            event_type = "purchase"
        else:
            draw = rng.random()
            if draw < config.repeat_rate and bought_consumables:
                item = bought_consumables[int(rng.integers(0, len(bought_consumables)))]
                event_type = "purchase"
            elif (
                draw < config.repeat_rate + config.successor_rate
                and previous >= 0
                and catalogue.successor[previous] >= 0
            ):
                item = int(catalogue.successor[previous])
            elif draw < config.repeat_rate + config.successor_rate + config.noise_rate:
                item = _draw(rng, np.arange(catalogue.num_items), catalogue.popularity(progress))
            else:
                members = catalogue.category_items[intent]
                weights = (1.0 - progress) * catalogue.early_popularity[members]
                weights = weights + progress * catalogue.late_popularity[members]
                item = _draw(rng, members, weights)
                event_type = "click" if rng.random() < 0.3 else "view"
        if catalogue.consumable[item]:
            if item not in bought_consumables:
                bought_consumables.append(item)
        elif rng.random() < config.complement_rate:
            due = step + config.long_range_gap
            while due in pending:
                due += 1
            pending[due] = item
        events.append((item, timestamp, event_type))
        previous = item
    return events


def generate_events(
    catalogue: Catalogue,
    config: BehaviourConfig,
    num_users: int,
    mean_events_per_user: float,
    start_timestamp: int,
    rng: np.random.Generator,
) -> list[list[str]]:
    """Event rows `[user_id, item_id, timestamp, event_type, value]` for `num_users` users.

    Args:
        catalogue: the items.
        config: the behaviour rates.
        num_users: users.
        mean_events_per_user: mean sequence length (geometric, at least 3, at most 400).
        start_timestamp: Unix seconds of the earliest possible event.
        rng: random state.
    """
    rows: list[list[str]] = []
    for user in range(num_users):
        length = min(400, max(3, int(rng.geometric(1.0 / mean_events_per_user))))
        offset = int(rng.integers(0, max(1, 2 * config.active_days // 3) * DAY_SECONDS))
        for item, timestamp, event_type in user_events(
            catalogue, config, length, start_timestamp + offset, rng, period_start=start_timestamp
        ):
            rows.append(
                [
                    f"u{user:05d}",
                    catalogue.item_ids[item],
                    str(timestamp),
                    event_type,
                    f"{rng.random():.3f}",
                ]
            )
    return rows
