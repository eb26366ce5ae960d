"""Generated news with planted sentiment episodes and decoys: ground truth for the detector.

Every text gets a latent tone (`negative` / `neutral` / `positive`) drawn from its ticker's tone
mix of that day, a text built from the finance phrase templates of `seqlens.synthetic.generator` (so
a real sentiment model can score it), and — from the *noisy score generator* — a score: the tone's
centre (-0.7, 0, 0.7) plus Gaussian noise (sd `score_noise`), clipped to `[-1, 1]`, with a share
`flip_rate` of texts given a random tone first (classifier mistakes). The label is the sign band
of the score (`<= -1/3` negative, `>= 1/3` positive).

Planted episodes (the alerts that must fire): a ticker's tone mix shifts towards one direction
for 1-3 windows, with a strength between `min_strength` and `max_strength` (the share of texts
moved to that tone) and a volume multiplier in `volume_range`; episodes never overlap a
market-wide move or another event of their ticker.
Decoys (no sentiment alert may fire): a slow drift of one ticker's tone over `drift_windows`
windows, market-wide moves (every ticker shifts together for 1-2 windows), neutral-tone volume
bursts (4-8x texts, baseline tone: a buzz alert is fine), and retweet storms (one negative text
retweeted many times: removed by the aggregation's retweet policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqlens.synthetic.phrases import (
    COMPANIES,
    NEGATED_POSITIVE,
    NEGATIVE_PHRASES,
    NEUTRAL_PHRASES,
    POSITIVE_PHRASES,
    TICKERS,
    fill_template,
)

TONES = ("negative", "neutral", "positive")
CENTRES = {"negative": -0.7, "neutral": 0.0, "positive": 0.7}
BASE_MIX = np.array([0.2, 0.55, 0.25])
OUTLETS = (
    "Reuters",
    "Bloomberg",
    "MarketWatch",
    "CNBC",
    "WSJ",
    "FT",
    "Barron's",
    "Seeking Alpha",
    "Benzinga",
    "Yahoo Finance",
    "@tradedesk",
    "@chartguy",
    "@valueinvestor",
    "@flowalerts",
)


@dataclass(frozen=True)
class PlantedConfig:
    """Size, difficulty and seed of a planted-spike data set (windows are days by default).

    Args:
        num_tickers: tickers (symbols `T00`, `T01`, ... beyond the generator's list).
        num_windows: windows covered (days for `window_seconds=86400`).
        window_seconds: window length.
        texts_per_window: range of each ticker's mean texts per window (drawn once per ticker).
        episodes_per_ticker: planted sentiment episodes per ticker.
        min_strength / max_strength: share of the ticker's texts moved to the episode's tone.
        volume_range: range of the episode's volume multiplier (news shocks bring more texts).
        score_noise: sd of the Gaussian noise of the score generator.
        flip_rate: share of texts whose tone is replaced by a random one before scoring.
        drift_windows: length of each slow-drift decoy.
        market_moves / volume_bursts / retweet_storms: how many of each decoy.
        warmup_windows: no episode or decoy starts before this window.
        start_timestamp: Unix seconds of the first window (aligned to the window length).
        seed: random seed.
    """

    num_tickers: int = 20
    num_windows: int = 120
    window_seconds: int = 86_400
    texts_per_window: tuple[float, float] = (20.0, 50.0)
    episodes_per_ticker: int = 2
    min_strength: float = 0.6
    max_strength: float = 0.9
    volume_range: tuple[float, float] = (1.5, 3.0)
    score_noise: float = 0.25
    flip_rate: float = 0.1
    drift_windows: int = 40
    market_moves: int = 2
    volume_bursts: int = 6
    retweet_storms: int = 4
    warmup_windows: int = 20
    start_timestamp: int = 1_704_067_200  # 2024-01-01 UTC
    seed: int = 7

    def __post_init__(self) -> None:
        if self.num_tickers < 1:
            raise ValueError(f"Expected num_tickers >= 1. Received: num_tickers={self.num_tickers}")
        if self.num_windows < self.warmup_windows + 10:
            raise ValueError(
                "Expected num_windows >= warmup_windows + 10. "
                f"Received: num_windows={self.num_windows}"
            )
        if not 0 < self.min_strength <= self.max_strength <= 1:
            raise ValueError(
                "Expected 0 < min_strength <= max_strength <= 1. "
                f"Received: max_strength={self.max_strength}"
            )


def _ticker_names(count: int) -> list[str]:
    names = list(TICKERS[:count])
    names += [f"T{index:02d}" for index in range(count - len(names))]
    return names


def _text(ticker: str, tone: str, rng: np.random.Generator) -> str:
    pool = {
        "negative": NEGATIVE_PHRASES + NEGATED_POSITIVE,
        "neutral": NEUTRAL_PHRASES,
        "positive": POSITIVE_PHRASES,
    }[tone]
    name = COMPANIES.get(ticker, f"${ticker}") if rng.random() < 0.6 else f"${ticker}"
    return f"{name} {fill_template(str(rng.choice(pool)), rng)}"


def _plan(config: PlantedConfig, tickers: list[str], rng: np.random.Generator) -> list[dict]:
    """Episodes and decoys without overlaps on one ticker (a gap of 8 windows between them)."""
    events: list[dict] = []
    busy: dict[str, list[tuple[int, int]]] = {ticker: [] for ticker in tickers}

    def free(ticker: str, start: int, length: int) -> bool:
        return all(start + length + 8 <= s or e + 8 <= start for s, e in busy[ticker])

    def place(kind: str, ticker: str, length: int, **extra) -> None:
        for _ in range(200):
            start = int(rng.integers(config.warmup_windows, config.num_windows - length - 1))
            if free(ticker, start, length):
                busy[ticker].append((start, start + length))
                events.append(
                    {"kind": kind, "ticker": ticker, "start": start, "length": length, **extra}
                )
                return

    market_starts = [
        config.warmup_windows
        + 5
        + index * (config.num_windows - config.warmup_windows) // max(1, config.market_moves)
        for index in range(config.market_moves)
    ]
    for index, start in enumerate(market_starts):
        length = int(rng.integers(1, 3))
        events.append(
            {
                "kind": "market_move",
                "ticker": "*",
                "start": int(start),
                "length": length,
                "direction": "negative" if index % 2 == 0 else "positive",
                "strength": 0.5,
            }
        )
        for ticker in tickers:
            busy[ticker].append((int(start), int(start) + length))
    for ticker in tickers:
        for index in range(config.episodes_per_ticker):
            place(
                "episode",
                ticker,
                int(rng.integers(1, 4)),
                direction="negative" if index % 2 == 0 else "positive",
                strength=float(rng.uniform(config.min_strength, config.max_strength)),
                volume=float(rng.uniform(*config.volume_range)),
            )
    for index in range(config.volume_bursts):
        place("volume_burst", tickers[index % len(tickers)], 1, volume=float(rng.uniform(4, 8)))
    for index in range(config.retweet_storms):
        place(
            "retweet_storm",
            tickers[(index * 7 + 3) % len(tickers)],
            1,
            copies=int(rng.integers(30, 80)),
        )
    drift_ticker = tickers[-1]  # the drift ticker carries no episode: its tone wanders slowly
    events = [e for e in events if e["ticker"] != drift_ticker]
    events.append(
        {
            "kind": "drift",
            "ticker": drift_ticker,
            "start": config.warmup_windows,
            "length": config.drift_windows,
            "direction": "negative",
            "strength": 0.45,
        }
    )
    return events


def _mix(direction: str, strength: float) -> np.ndarray:
    """The base tone mix with `strength` of the mass moved to `direction`."""
    target = np.array([1.0, 0, 0]) if direction == "negative" else np.array([0, 0, 1.0])
    return (1 - strength) * BASE_MIX + strength * target


def generate_planted(config: PlantedConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows and ground truth.

    Returns:
        `(rows, events)`: `rows` has `id, timestamp, ticker, text, author, followers, retweet,
        tone, label, score, confidence` (scored by the noisy score generator);
        `events` has `kind` (`episode` or a decoy kind), `ticker`, `start`/`length` in windows,
        `window_start`/`window_end` in Unix seconds, `direction`, `strength`, `volume`.
    """
    rng = np.random.default_rng(config.seed)
    tickers = _ticker_names(config.num_tickers)
    events = _plan(config, tickers, rng)
    rates = dict(
        zip(tickers, rng.uniform(*config.texts_per_window, size=len(tickers)), strict=True)
    )
    rows: list[dict] = []
    for window in range(config.num_windows):
        start = config.start_timestamp + window * config.window_seconds
        for ticker in tickers:
            mix, volume, storm = BASE_MIX, 1.0, 0
            for event in events:
                if (
                    event["ticker"] not in (ticker, "*")
                    or not event["start"] <= window < event["start"] + event["length"]
                ):
                    continue
                if event["kind"] in ("episode", "market_move"):
                    mix = _mix(event["direction"], event["strength"])
                    volume = event.get("volume", 1.0)
                elif event["kind"] == "drift":
                    progress = (window - event["start"] + 1) / event["length"]
                    mix = _mix(event["direction"], event["strength"] * progress)
                elif event["kind"] == "volume_burst":
                    volume = event["volume"]
                elif event["kind"] == "retweet_storm":
                    storm = event["copies"]
            if any(
                e["kind"] == "drift"
                and e["ticker"] == ticker
                and window >= e["start"] + e["length"]
                for e in events
            ):
                mix = _mix("negative", 0.45)  # the drift stays at its end level
            for _ in range(int(rng.poisson(rates[ticker] * volume))):
                tone = TONES[int(rng.choice(3, p=mix))]
                rows.append(_row(ticker, tone, start, config, rng, retweet=False))
            if storm:
                original = _row(ticker, "negative", start, config, rng, retweet=False)
                rows.append(original)
                for _ in range(storm):
                    copy = dict(
                        original,
                        retweet=True,
                        author=f"user{int(rng.integers(0, 10_000))}",
                        text=f"RT @{original['author']}: {original['text']}",
                    )
                    copy["timestamp"] = original["timestamp"] + int(rng.integers(0, 3_600))
                    copy["timestamp"] = min(copy["timestamp"], start + config.window_seconds - 1)
                    rows.append(copy)
    table = pd.DataFrame(rows)
    table.insert(0, "id", [f"p{index:07d}" for index in range(len(table))])
    table = table.sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True)
    truth = pd.DataFrame(events)
    truth["window_start"] = config.start_timestamp + truth["start"] * config.window_seconds
    truth["window_end"] = truth["window_start"] + truth["length"] * config.window_seconds
    return table, truth


def _row(
    ticker: str,
    tone: str,
    window_start: int,
    config: PlantedConfig,
    rng: np.random.Generator,
    retweet: bool,
) -> dict:
    observed = TONES[int(rng.integers(0, 3))] if rng.random() < config.flip_rate else tone
    score = float(np.clip(CENTRES[observed] + rng.normal(0, config.score_noise), -1, 1))
    label = "negative" if score <= -1 / 3 else "positive" if score >= 1 / 3 else "neutral"
    timestamp = window_start + int(rng.integers(0, config.window_seconds))
    # independent posts are not exact copies of each other (only the retweet storms are): a
    # small template pool would otherwise make the duplicate filter eat the planted signal
    outlet = OUTLETS[int(rng.integers(0, len(OUTLETS)))]
    clock = f"{timestamp % 86_400 // 3_600:02d}:{timestamp % 3_600 // 60:02d}"
    return {
        "timestamp": timestamp,
        "ticker": ticker,
        "text": f"{_text(ticker, tone, rng)} ({outlet}, {clock} UTC)",
        "author": f"user{int(rng.integers(0, 10_000))}",
        "followers": float(rng.lognormal(5, 2)),
        "retweet": retweet,
        "tone": tone,
        "label": label,
        "score": score,
        "confidence": float(min(1.0, 0.5 + abs(score) / 2)),
    }
