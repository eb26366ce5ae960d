"""What one batch run is: its settings (sizes, epochs, seeds, the recommender's configuration),
where it writes, and the run root of a data interval.

The recommender's settings are a `RecommenderConfig`, not copies of its fields: the batch path,
`seqlens train recommender` and the Airflow DAG all name a recommender setting by its field
(`num_blocks` is flag `--num-blocks` and Param `num_blocks`). `BatchSettings.to_dict` and
`BatchSettings.from_mapping` give the flat view the DAG's Params and XComs use: the batch's own
fields, then every `RecommenderConfig` field. Light: no TensorFlow, Beam or Keras imports.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.recommender.config import RecommenderConfig
from seqlens.layout import ArtifactLayout

INTERVAL_KEY_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:+-]*$")
# The publish gate's p99 single-request limit is 50 ms in production (the DAG's default); the
# demo and the tests run on shared 2-core machines where other jobs inflate the tail.
DEMO_LATENCY_P99_MS = 250.0
FAST_LATENCY_P99_MS = 1000.0
# A batch run trains the recommender for a handful of epochs at a constant learning rate, with
# lighter regularisation than the Games-tuned defaults (see `seqlens.batch.train_recommender`).
BATCH_RECOMMENDER = {
    "epochs": 5,
    "num_blocks": 2,
    "num_heads": 2,
    "batch_size": 32,
    "hidden_dim": 32,
    "max_length": 50,
    "dropout": 0.2,
    "weight_decay": 0.1,
    "learning_rate": 1e-2,
    "learning_rate_decay_epochs": None,
}
# The smallest recommender that still exercises every step (`BatchSettings.fast`).
FAST_RECOMMENDER = {
    "epochs": 2,
    "num_blocks": 1,
    "num_heads": 1,
    "batch_size": 16,
    "hidden_dim": 16,
    "max_length": 20,
}
# Names earlier versions of the batch settings (and of the DAG's Params) gave recommender fields;
# `BatchSettings.from_mapping` and attribute access still accept them.
LEGACY_SETTING_NAMES = {
    "recommender_epochs": "epochs",
    "recommender_blocks": "num_blocks",
    "recommender_heads": "num_heads",
    "recommender_batch_size": "batch_size",
    "embedding_dim": "hidden_dim",
    "recommender_dropout": "dropout",
    "recommender_weight_decay": "weight_decay",
}
CONFIG_FIELD_NAMES = tuple(
    config_field.name for config_field in dataclasses.fields(RecommenderConfig)
)


def batch_recommender_config(**overrides: Any) -> RecommenderConfig:
    """The batch path's `RecommenderConfig`: `BATCH_RECOMMENDER`, then `overrides`."""
    return RecommenderConfig(**{**BATCH_RECOMMENDER, **overrides})


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class BatchSettings:
    """Sizes, epochs and seeds of one batch run.

    Args:
        seed: seed of the generator and of every training run (the recommender's `seed` is
            always this one).
        num_users: users in the generated event log.
        num_items: items in the generated catalogue.
        num_days: days of generated news.
        num_chats: generated chat messages.
        text_epochs: training epochs of the sentiment and intent models.
        text_embedding_dim: width of the text models' token embeddings.
        top_k: cut-off of the ranking metrics.
        latency_p99_ms: the publish gate's limit on the p99 latency of single requests through
            the reloaded SavedModel.
        gate_requests: held-out users (recommender) or texts (text models) on which the publish
            gate compares the reloaded SavedModel with the Keras model.
        recommender: the recommender's training configuration (default:
            `batch_recommender_config()`); its `max_length` is also the longest user history the
            events pipeline keeps, and its `learning_rate` may be 0 (trains nothing: a control
            that must fail the validation gate). Its `dropout` must be in [0, 1).
    """

    seed: int = _setting(42, "seed of the generator and of every model")
    num_users: int = _setting(2_000, "users in the generated event log")
    num_items: int = _setting(800, "items in the generated catalogue")
    num_days: int = _setting(90, "days of generated news")
    num_chats: int = _setting(4_000, "generated chat messages")
    text_epochs: int = _setting(2, "training epochs of the sentiment and intent models")
    text_embedding_dim: int = _setting(32, "width of the text models' token embeddings")
    top_k: int = _setting(10, "cut-off of the ranking metrics")
    latency_p99_ms: float = _setting(
        50.0, "publish gate: p99 limit (ms) of single requests to the SavedModel"
    )
    gate_requests: int = _setting(
        256, "publish gate: held-out users or texts the SavedModel is compared on"
    )
    recommender: RecommenderConfig = field(default_factory=batch_recommender_config)

    def __post_init__(self) -> None:
        for name in self.own_names():
            value = getattr(self, name)
            if name in ("seed", "latency_p99_ms"):
                continue
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected {name} to be a positive integer. Received: {name}={value!r}"
                )
        if not self.latency_p99_ms > 0:
            raise ValueError(
                "Expected latency_p99_ms to be > 0. "
                f"Received: latency_p99_ms={self.latency_p99_ms!r}"
            )
        if not isinstance(self.recommender, RecommenderConfig):
            raise ValueError(
                "Expected recommender to be a RecommenderConfig. "
                f"Received: recommender={self.recommender!r}"
            )
        if not 0 <= self.recommender.dropout < 1:
            raise ValueError(
                f"Expected dropout in [0, 1). Received: dropout={self.recommender.dropout!r}"
            )
        if self.recommender.seed != self.seed:
            recommender = dataclasses.replace(self.recommender, seed=self.seed)
            object.__setattr__(self, "recommender", recommender)

    def __getattr__(self, name: str) -> Any:
        """A recommender setting by its field name or a legacy name (`settings.max_length`)."""
        recommender = self.__dict__.get("recommender")
        name = LEGACY_SETTING_NAMES.get(name, name)
        if recommender is None or name.startswith("_") or name not in CONFIG_FIELD_NAMES:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(recommender, name)

    @classmethod
    def own_names(cls) -> tuple[str, ...]:
        """The batch's own settings (every field but `recommender`)."""
        return tuple(item.name for item in dataclasses.fields(cls) if item.name != "recommender")

    @classmethod
    def fast(cls, seed: int = 42) -> BatchSettings:
        """The smallest settings that still exercise every step (tests, `seqlens demo --fast`)."""
        return cls(
            seed=seed,
            num_users=60,
            num_items=40,
            num_days=20,
            num_chats=300,
            text_epochs=1,
            text_embedding_dim=16,
            latency_p99_ms=FAST_LATENCY_P99_MS,
            gate_requests=32,
            recommender=batch_recommender_config(**FAST_RECOMMENDER),
        )

    @classmethod
    def demo(cls, seed: int = 42) -> BatchSettings:
        """The default sizes, with a latency limit a busy laptop or CI machine can meet."""
        return cls(seed=seed, latency_p99_ms=DEMO_LATENCY_P99_MS)

    @classmethod
    def from_mapping(cls, values: dict) -> BatchSettings:
        """Settings from a flat mapping such as Airflow params; unknown keys are ignored.

        Keys are the batch's own settings and `RecommenderConfig` field names; a legacy name
        (`LEGACY_SETTING_NAMES`) given too wins over the current one, which Airflow always fills
        with its default. Recommender fields not given take `BATCH_RECOMMENDER`'s values.
        """
        own = set(cls.own_names())
        settings: dict[str, Any] = {}
        recommender: dict[str, Any] = {}
        for key in sorted(values, key=lambda key: key in LEGACY_SETTING_NAMES):
            name = LEGACY_SETTING_NAMES.get(key, key)
            if name in own:
                settings[name] = values[key]
            elif name in CONFIG_FIELD_NAMES:
                recommender[name] = values[key]
        return cls(**settings, recommender=batch_recommender_config(**recommender))

    def to_dict(self) -> dict[str, Any]:
        """The flat view: the batch's own settings, then every `RecommenderConfig` field."""
        own = {name: getattr(self, name) for name in self.own_names()}
        return {**own, **{k: v for k, v in self.recommender.to_dict().items() if k not in own}}


def setting_fields() -> list[dataclasses.Field]:
    """Every flat setting's field (type and `metadata["help"]`), in `to_dict` order."""
    own = [item for item in dataclasses.fields(BatchSettings) if item.name != "recommender"]
    names = {item.name for item in own}
    config = [item for item in dataclasses.fields(RecommenderConfig) if item.name not in names]
    return own + config


@dataclass(frozen=True)
class BatchRun:
    """Where one batch run writes and publishes, and with which settings.

    Args:
        root: the run's artifacts root (an `ArtifactLayout` root); the DAG uses
            `<base>/runs/<ds>`, the demo its `--output` folder.
        serving_root: the TF Serving model root the run publishes to. Defaults to the layout's
            `<root>/serving`; the DAG shares one serving root between runs so the gate compares
            each candidate with the model currently served.
        settings: sizes, epochs and seeds.
        until_timestamp: end of the data interval (Unix seconds, exclusive); the pipelines
            dead-letter later rows, so a run sees exactly the logs up to its interval's end.
            `None` (the demo) keeps every row.
    """

    root: Path
    serving_root: Path | None = None
    settings: BatchSettings = field(default_factory=BatchSettings)
    until_timestamp: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if self.serving_root is None:
            object.__setattr__(self, "serving_root", ArtifactLayout(self.root).serving_root)
        object.__setattr__(self, "serving_root", Path(self.serving_root))

    @property
    def layout(self) -> ArtifactLayout:
        return ArtifactLayout(self.root)


def interval_run_root(base_root: str | Path, interval_key: str) -> Path:
    """The run root of one data interval: `<base_root>/runs/<interval_key>`.

    Args:
        base_root: the folder holding every run (and, by default, the shared serving root).
        interval_key: a path-safe key of the data interval, e.g. Airflow's `ds` (`2024-03-01`).
    """
    if not INTERVAL_KEY_PATTERN.match(str(interval_key)):
        raise ValueError(
            "Expected interval_key to be a path-safe key such as '2024-03-01'. "
            f"Received: interval_key={interval_key!r}"
        )
    return Path(base_root) / "runs" / str(interval_key)
