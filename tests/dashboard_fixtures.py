"""Small artifact roots for the dashboard tests, written file by file (Parquet, JSON, CSV).

`write_data_artifacts(root)` writes everything except trained models: sequences, texts,
alerts (one of whose tweets carries `<script>` and `<img onerror>`), model metrics and
training histories, a publish log. Trained models come from the real training APIs in the
test modules that need them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from seqlens.layout import ArtifactLayout

START = 1_704_067_200  # 2024-01-01T00:00:00Z
HOUR = 3600
MALICIOUS_TWEET = "$EVIL crashes <script>alert('x')</script> <img src=x onerror=alert(1)> sell now"
MALICIOUS_TOKENS = [
    "$evil",
    "crashes",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "sell",
    "now",
]
NUM_USERS = 30
NUM_ITEMS = 40


def write_sequences(root: Path, seed: int = 0) -> None:
    """30 users with 4-12 items each, ids `u00`.. and items `1`..`40`, leave-one-out split."""
    rng = np.random.default_rng(seed)
    rows = []
    counts: dict[str, int] = {}
    for user in range(NUM_USERS):
        length = int(rng.integers(4, 13))
        start = int(rng.integers(1, NUM_ITEMS))
        items = [str((start + step) % NUM_ITEMS + 1) for step in range(length)]
        for item in items:
            counts[item] = counts.get(item, 0) + 1
        timestamps = [START + user * HOUR + step * 600 for step in range(length)]
        rows.append(
            {
                "user_id": f"u{user:02d}",
                "item_ids": items,
                "timestamps": timestamps,
                "event_types": None,
                "valid_position": length - 2,
                "test_position": length - 1,
            }
        )
    run = ArtifactLayout(root).data_run("events")
    (run / "sequences").mkdir(parents=True, exist_ok=True)
    (run / "vocab").mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    frame["valid_position"] = frame["valid_position"].astype("int32")
    frame["test_position"] = frame["test_position"].astype("int32")
    frame.to_parquet(run / "sequences" / "part-00000.parquet")
    vocab = pd.DataFrame(
        sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])), columns=["item_id", "count"]
    )
    vocab.to_parquet(run / "vocab" / "items.parquet")
    (run / "vocab" / "items.txt").write_text("".join(f"{item}\n" for item in vocab["item_id"]))
    (run / "stats.json").write_text(
        json.dumps(
            {
                "rows_in": 300,
                "rows_out": 290,
                "rows_dead": 10,
                "users": NUM_USERS,
                "items": NUM_ITEMS,
            }
        )
    )
    raw = ArtifactLayout(root).raw_dir
    raw.mkdir(parents=True, exist_ok=True)
    titles = pd.DataFrame(
        {
            "movieId": [str(item) for item in range(1, NUM_ITEMS + 1)],
            "title": [f"Film number {item}" for item in range(1, NUM_ITEMS + 1)],
            "genres": "Drama",
        }
    )
    titles.loc[0, "title"] = "<b>Bold</b> <img src=x onerror=alert(2)>"
    titles.to_csv(raw / "movies.csv", index=False)


def write_chats(root: Path) -> None:
    """40 chat messages over 4 days with intent labels."""
    phrases = {
        "cancel_order": "please cancel my order",
        "track_order": "where is my parcel",
        "refund": "i want my money back",
        "greeting": "hello there",
    }
    rows = []
    for index in range(40):
        intent = list(phrases)[index % len(phrases)]
        text = phrases[intent] + f" number {index}"
        rows.append(
            {
                "conversation_id": f"c{index}",
                "timestamp": START + index * 9 * HOUR,
                "text": text,
                "tokens": text.split(),
                "intent": intent,
            }
        )
    folder = ArtifactLayout(root).data_run("chats") / "texts"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(folder / "part-00000.parquet")


def write_alerts(root: Path) -> None:
    """Windows for two tickers over 3 days, two alerts, scored texts incl. a malicious tweet."""
    alerts_dir = ArtifactLayout(root).alerts_dir
    alerts_dir.mkdir(parents=True, exist_ok=True)
    windows, scored = [], []
    for ticker in ("EVIL", "GOOD"):
        for day in range(3):
            start = START + day * 24 * HOUR
            negative = ticker == "EVIL" and day == 2
            windows.append(
                {
                    "ticker": ticker,
                    "window_start": start,
                    "window_end": start + 24 * HOUR,
                    "count": 12 if negative else 4,
                    "mean_score": -0.8 if negative else 0.1,
                    "share_negative": 0.9 if negative else 0.2,
                    "share_positive": 0.3,
                }
            )
            for index in range(3):
                text = f"{ticker} trades flat on day {day} note {index}"
                tokens = text.lower().split()
                scored.append(
                    {
                        "id": f"{ticker}-{day}-{index}",
                        "timestamp": start + index * HOUR,
                        "ticker": ticker,
                        "text": text,
                        "source": "wire",
                        "author": "a",
                        "label": "neutral",
                        "score": 0.05,
                        "confidence": 0.7,
                        "tokens": tokens,
                        "token_attention": [1.0 / len(tokens)] * len(tokens),
                    }
                )
    day_two = START + 2 * 24 * HOUR
    scored.append(
        {
            "id": "evil-tweet",
            "timestamp": day_two + 5 * HOUR,
            "ticker": "EVIL",
            "text": MALICIOUS_TWEET,
            "source": "twitter",
            "author": "troll",
            "label": "negative",
            "score": -0.95,
            "confidence": 0.97,
            "tokens": MALICIOUS_TOKENS,
            "token_attention": [0.1, 0.4, 0.2, 0.2, 0.05, 0.05],
        }
    )
    pd.DataFrame(windows).to_parquet(alerts_dir / "windows.parquet")
    pd.DataFrame(scored).to_parquet(alerts_dir / "scored.parquet")
    alerts = [
        {
            "dedup_key": "EVIL-sentiment-2",
            "ticker": "EVIL",
            "window_start": day_two,
            "window_end": day_two + 24 * HOUR,
            "kind": "sentiment",
            "direction": "negative",
            "severity": "critical",
            "statistics": {"count": 12, "mean_score": -0.8, "z": -4.2},
            "top_texts": [{"id": "evil-tweet", "text": MALICIOUS_TWEET, "score": -0.95}],
        },
        {
            "dedup_key": "GOOD-buzz-1",
            "ticker": "GOOD",
            "window_start": START + 24 * HOUR,
            "window_end": START + 48 * HOUR,
            "kind": "buzz",
            "direction": "up",
            "severity": "info",
            "statistics": {"count": 4},
            "top_texts": [],
        },
    ]
    (alerts_dir / "alerts.jsonl").write_text("".join(json.dumps(alert) + "\n" for alert in alerts))


def write_model_reports(root: Path) -> None:
    """metrics.json / history.json for the recommender and a popularity baseline; a publish log."""
    layout = ArtifactLayout(root)
    recommender = layout.model_dir("recommender")
    baseline = layout.model_dir("popularity")
    for folder in (recommender, baseline):
        folder.mkdir(parents=True, exist_ok=True)
    # the shape `seqlens evaluate recommender` writes (models.recommender.evaluation)
    (recommender / "metrics.json").write_text(
        json.dumps(
            {
                "split": "test",
                "users": NUM_USERS,
                "catalogue_items": NUM_ITEMS,
                "protocols": {
                    "full": "target ranked against every item",
                    "sampled100": "100 sampled negatives",
                },
                "labels": {"popularity": "most popular", "markov": "first-order Markov chain"},
                "models": {
                    "recommender": {
                        "full": {"HR@10": 0.31, "NDCG@10": 0.17},
                        "sampled100": {"HR@10": 0.72},
                    },
                    "popularity": {
                        "full": {"HR@10": 0.12, "NDCG@10": 0.06},
                        "sampled100": {"HR@10": 0.41},
                    },
                    "markov": {
                        "full": {"HR@10": 0.25, "NDCG@10": 0.13},
                        "sampled100": {"HR@10": 0.66},
                    },
                },
                "headline": {"full/NDCG@10": 0.17},
                "config": {"hidden_dim": 16},
            }
        )
    )
    (baseline / "metrics.json").write_text(
        json.dumps(
            {
                "full_ranking": {
                    "protocol": "full ranking over all items, leave-one-out test",
                    "HR@10": 0.12,
                    "NDCG@10": 0.06,
                }
            }
        )
    )
    (recommender / "history.json").write_text(
        json.dumps(
            {
                "loss": [2.0, 1.5, 1.2],
                "val_loss": [2.1, 1.7, 1.5],
                "val_hit_rate@10": [0.1, 0.2, 0.3],
            }
        )
    )
    serving = layout.serving_root / "recommender"
    for version in (1, 2):
        (serving / str(version)).mkdir(parents=True, exist_ok=True)
        (serving / str(version) / "saved_model.pb").write_bytes(b"")
    log = [
        {
            "name": "recommender",
            "version": 1,
            "time": "2024-01-05T00:00:00Z",
            "decision": "published",
            "reasons": ["no current model"],
            "checks": {},
            "metrics": {"hit_rate@10": 0.25},
        },
        {
            "name": "recommender",
            "version": 2,
            "time": "2024-01-06T00:00:00Z",
            "decision": "published",
            "reasons": ["hit_rate@10 0.31 >= 0.25"],
            "checks": {},
            "metrics": {"hit_rate@10": 0.31},
        },
        {
            "name": "recommender",
            "version": 3,
            "time": "2024-01-07T00:00:00Z",
            "decision": "rejected",
            "reasons": ["hit_rate@10 0.20 < 0.31"],
            "metrics": {"hit_rate@10": 0.20},
            "checks": {"latency": {"passed": True}, "no_metric_regression": {"passed": False}},
        },
    ]
    layout.publish_log.write_text("".join(json.dumps(entry) + "\n" for entry in log))


def write_data_artifacts(root: Path) -> Path:
    """Everything but trained models; returns `root`."""
    root = Path(root)
    write_sequences(root)
    write_chats(root)
    write_alerts(root)
    write_model_reports(root)
    return root


def write_trained_models(root: Path) -> Path:
    """Train a tiny real recommender and a tiny real intent model into `root` (a few seconds).

    Uses the real training APIs (`models.recommender.training`, `models.text.training`) on the
    fixture's sequences and chats, so the dashboard is tested against real model folders.
    """
    from models.recommender.sequence_data import load_sequence_data
    from models.recommender.training import RecommenderConfig, train_recommender
    from models.text.training import train_text_model
    from models.text.training_config import TextTrainingConfig

    layout = ArtifactLayout(root)
    data = load_sequence_data(layout.data_run("events"))
    train_recommender(
        data,
        layout.model_dir("recommender"),
        RecommenderConfig(
            hidden_dim=16,
            num_blocks=1,
            num_heads=2,
            max_length=16,
            dropout=0.0,
            batch_size=16,
            epochs=1,
            patience=1,
            jit_compile=False,
            validation_users=None,
        ),
        data_run=str(layout.data_run("events")),
        verbose=0,
    )
    chats = pd.read_parquet(layout.data_run("chats") / "texts")
    train_text_model(
        chats["text"].tolist(),
        chats["intent"].tolist(),
        TextTrainingConfig(
            task="intent",
            sequence_length=12,
            embedding_dim=16,
            num_heads=2,
            feed_forward_dim=32,
            attention_units=16,
            max_ngrams=0,
            epochs=1,
            batch_size=16,
            validation_fraction=0.25,
        ),
        layout.model_dir("intent"),
    )
    return root


def write_trained_ranker(root: Path) -> Path:
    """Train a tiny real two-stage ranker (`models/ranker`) over `root`'s trained recommender,
    with one category feature per item (`write_trained_models` first)."""
    from models.recommender.ranker_config import RankerConfig
    from models.recommender.ranker_training import train_ranker
    from models.recommender.sequence_data import load_sequence_data

    layout = ArtifactLayout(root)
    data = load_sequence_data(layout.data_run("events"))
    features = {str(item): [f"category=c{int(item) % 4}"] for item in data.item_ids}
    config = RankerConfig(num_candidates=20, hidden_dim=16, epochs=1, batch_size=32)
    train_ranker(
        layout.model_dir("recommender"), data, layout.model_dir("ranker"), config, features
    )
    return root
