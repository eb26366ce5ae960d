"""Synthetic but realistic logs: events, finance news and customer-service chats.

The embedded default data set of `seqlens demo` and of the tests. Deterministic under a seed.

- **events** (`seqlens.synthetic.behaviour` over a `seqlens.synthetic.catalogue`): items with
  readable titles and categories (written to `items.csv`); users with drifting interests,
  sessions with an intent, long-range dependencies (a complement bought a planted number of
  events after its item), repeat consumption, product-line successors, popularity drift and
  noise, so that attention over the history beats a Markov chain and a recurrent model.
- **news** (`seqlens.synthetic.finance_texts`): headlines and tweets about tickers whose tone
  (negative / neutral / positive, a neutral majority) is hidden behind negation, hedges, mixed
  clauses, numbers and sarcasm, with `label_noise` of the labels replaced; planted sentiment
  episodes (a ticker's tone turns sharply negative or positive for a few days, with more volume)
  are listed in `news_episodes.json`.
- **chats** (`seqlens.synthetic.chat_texts`): multi-sentence customer-service messages with
  overlapping intents and typos, and out-of-scope messages in `chats_out_of_scope.csv`.
- A small share of malformed rows (empty ids, unparsable timestamps, wrong column counts) is mixed
  in, because real logs have them and the pipeline must dead-letter them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seqlens.synthetic import behaviour
from seqlens.synthetic.behaviour import BehaviourConfig
from seqlens.synthetic.catalogue import Catalogue, build_catalogue, write_items_csv
from seqlens.synthetic.chat_texts import compose_chat, compose_out_of_scope
from seqlens.synthetic.finance_texts import TONES, compose_finance_text, noisy_label
from seqlens.synthetic.phrases import COMPANIES, INTENT_TEMPLATES, TICKERS

DAY_SECONDS = 86_400
START_TIMESTAMP = 1_704_067_200  # 2024-01-01T00:00:00Z


@dataclass(frozen=True)
class GenerateConfig:
    """Sizes and seed of the synthetic data set.

    Args:
        num_users: users in the event log.
        num_items: items in the catalogue.
        mean_events_per_user: mean sequence length (geometric-ish distribution, min 3).
        num_days: days covered by the news log.
        news_per_ticker_per_day: mean texts per ticker per day outside episodes.
        num_tickers: tickers used, at most `len(TICKERS)`.
        num_episodes: planted sentiment episodes in the news log.
        num_chats: customer-service messages.
        corrupt_fraction: share of malformed rows mixed into each log.
        label_noise: share of news and chat labels replaced by a random one (annotators
            disagree), so no model can reach 100%.
        seed: random seed; the same seed gives byte-identical files.
        behaviour: the rates of the planted event behaviours.
    """

    num_users: int = 2_000
    num_items: int = 800
    mean_events_per_user: float = 30.0
    num_days: int = 90
    news_per_ticker_per_day: float = 6.0
    num_tickers: int = 12
    num_episodes: int = 8
    num_chats: int = 4_000
    corrupt_fraction: float = 0.005
    label_noise: float = 0.07
    seed: int = 42
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)

    def __post_init__(self) -> None:
        for name in ("num_users", "num_items", "num_days", "num_tickers", "num_chats"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive int. Received: {name}={value!r}"
                )
        if self.num_items < 20:
            raise ValueError(f"Expected num_items >= 20. Received: num_items={self.num_items}")
        if self.num_tickers > len(TICKERS):
            raise ValueError(
                f"Expected num_tickers <= {len(TICKERS)}. Received: num_tickers={self.num_tickers}"
            )
        if not 0.0 <= self.corrupt_fraction < 0.5:
            raise ValueError(
                "Expected corrupt_fraction in [0, 0.5). "
                f"Received: corrupt_fraction={self.corrupt_fraction}"
            )
        if not 0.0 <= self.label_noise < 0.5:
            raise ValueError(
                f"Expected label_noise in [0, 0.5). Received: label_noise={self.label_noise}"
            )
        if self.mean_events_per_user < 3:
            raise ValueError(
                "Expected mean_events_per_user >= 3. "
                f"Received: mean_events_per_user={self.mean_events_per_user}"
            )


def generate_events(
    config: GenerateConfig, rng: np.random.Generator
) -> tuple[list[list[str]], Catalogue]:
    """Event rows `[user_id, item_id, timestamp, event_type, value]` and the catalogue they use."""
    catalogue = build_catalogue(config.num_items, rng)
    rows = behaviour.generate_events(
        catalogue,
        config.behaviour,
        config.num_users,
        config.mean_events_per_user,
        START_TIMESTAMP,
        rng,
    )
    return rows, catalogue


def generate_news(
    config: GenerateConfig, rng: np.random.Generator
) -> tuple[list[list[str]], list[dict]]:
    """News rows `[id, timestamp, ticker, text, source, author, label]` and the planted episodes."""
    tickers = TICKERS[: config.num_tickers]
    episodes = []
    for index in range(config.num_episodes):
        episodes.append(
            {
                "ticker": tickers[index % len(tickers)],
                "direction": "negative" if index % 2 == 0 else "positive",
                "start_day": int(rng.integers(20, max(21, config.num_days - 5))),
                "length_days": int(rng.integers(1, 4)),
            }
        )
    rows: list[list[str]] = []
    sources = ("newswire", "twitter", "blog")
    text_id = 0
    for day in range(config.num_days):
        for ticker in tickers:
            episode = next(
                (
                    e
                    for e in episodes
                    if e["ticker"] == ticker
                    and e["start_day"] <= day < e["start_day"] + e["length_days"]
                ),
                None,
            )
            volume = config.news_per_ticker_per_day * (2.5 if episode else 1.0)
            if episode is None:
                probabilities = (0.2, 0.55, 0.25)
            elif episode["direction"] == "negative":
                probabilities = (0.8, 0.15, 0.05)
            else:
                probabilities = (0.05, 0.15, 0.8)
            for _ in range(int(rng.poisson(volume))):
                tone = str(rng.choice(TONES, p=probabilities))
                source = str(rng.choice(sources))
                text = compose_finance_text(
                    tone, COMPANIES[ticker], ticker, source == "twitter", rng
                )
                timestamp = START_TIMESTAMP + day * DAY_SECONDS + int(rng.integers(0, DAY_SECONDS))
                rows.append(
                    [
                        f"n{text_id:07d}",
                        str(timestamp),
                        ticker,
                        text,
                        source,
                        f"author{int(rng.integers(0, 300)):03d}",
                        noisy_label(tone, config.label_noise, rng),
                    ]
                )
                text_id += 1
    rows.sort(key=lambda row: int(row[1]))
    return rows, episodes


def generate_chats(
    config: GenerateConfig, rng: np.random.Generator
) -> tuple[list[list[str]], list[list[str]]]:
    """Chat rows `[conversation_id, timestamp, text, intent]` and out-of-scope rows
    `[conversation_id, timestamp, text]` (a tenth as many)."""
    intents = sorted(INTENT_TEMPLATES)
    rows = []
    for index in range(config.num_chats):
        intent = intents[int(rng.integers(0, len(intents)))]
        text = compose_chat(intent, rng)
        if rng.random() < config.label_noise:  # annotator mistakes
            intent = intents[int(rng.integers(0, len(intents)))]
        timestamp = START_TIMESTAMP + int(rng.integers(0, config.num_days * DAY_SECONDS))
        rows.append([f"c{index:06d}", str(timestamp), text, intent])
    rows.sort(key=lambda row: int(row[1]))
    out_of_scope = []
    for index in range(max(1, config.num_chats // 10)):
        timestamp = START_TIMESTAMP + int(rng.integers(0, config.num_days * DAY_SECONDS))
        out_of_scope.append([f"x{index:06d}", str(timestamp), compose_out_of_scope(rng)])
    out_of_scope.sort(key=lambda row: int(row[1]))
    return rows, out_of_scope


def _corrupt(rows: list[list[str]], fraction: float, rng: np.random.Generator) -> list[list[str]]:
    """Replace a share of rows by typical malformed ones (kept in place, so counts stay known)."""
    corrupted = [list(row) for row in rows]
    count = int(len(rows) * fraction)
    for position in rng.choice(len(rows), size=count, replace=False) if count else []:
        row = corrupted[int(position)]
        kind = int(rng.integers(0, 4))
        if kind == 0:
            row[0] = ""  # empty id
        elif kind == 1:
            row[1 if len(row) > 3 and row[1].isdigit() else 2] = "not-a-time"
        elif kind == 2:
            del row[-1]  # wrong column count
        else:
            row[1 if row[1].isdigit() else 2] = "99999999999"  # absurd timestamp (year 5138)
    return corrupted


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def generate(output_dir: str | Path, config: GenerateConfig | None = None) -> dict[str, Path]:
    """Write `events.csv`, `items.csv`, `news.csv`, `chats.csv`, `chats_out_of_scope.csv`,
    `news_episodes.json` and `generate_config.json`.

    Args:
        output_dir: folder to write to (created if missing).
        config: sizes and seed; `GenerateConfig()` by default.

    Returns:
        The written paths by name (`events`, `news`, `chats`, `episodes`, `items`,
        `out_of_scope`).
    """
    config = config or GenerateConfig()
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    events, catalogue = generate_events(config, rng)
    events = _corrupt(events, config.corrupt_fraction, rng)
    news, episodes = generate_news(config, rng)
    news = _corrupt(news, config.corrupt_fraction, rng)
    chats, out_of_scope = generate_chats(config, rng)
    chats = _corrupt(chats, config.corrupt_fraction, rng)
    paths = {
        "events": output / "events.csv",
        "news": output / "news.csv",
        "chats": output / "chats.csv",
        "episodes": output / "news_episodes.json",
        "items": output / "items.csv",
        "out_of_scope": output / "chats_out_of_scope.csv",
    }
    write_items_csv(paths["items"], catalogue)
    _write_csv(paths["events"], ["user_id", "item_id", "timestamp", "event_type", "value"], events)
    _write_csv(
        paths["news"], ["id", "timestamp", "ticker", "text", "source", "author", "label"], news
    )
    _write_csv(paths["chats"], ["conversation_id", "timestamp", "text", "intent"], chats)
    _write_csv(paths["out_of_scope"], ["conversation_id", "timestamp", "text"], out_of_scope)
    paths["episodes"].write_text(json.dumps(episodes, indent=2))
    (output / "generate_config.json").write_text(json.dumps(asdict(config), indent=2))
    return paths
