"""The ranker's training configuration (`seqlens train ranker` flags; no Keras import here)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

BLENDS = ("stacked", "joint")  # how the retriever rank enters the score (ranker_model)


@dataclass(frozen=True)
class RankerConfig:
    """How `models.recommender.ranker_training.train_ranker` builds and trains the ranker.

    Args:
        num_candidates: `N`, the retriever's top N the ranker re-ranks.
        hidden_dim: embedding width `D` (divisible by `num_heads`).
        num_heads: heads of the target attention.
        hidden_units: widths of the scoring MLP.
        dropout: dropout of the attention and the MLP.
        id_dropout: share of item ids replaced by OOV in training (cold-start robustness).
        max_features: feature values kept per item (the rarest, most specific, first).
        max_length: history length read (`None`: the retriever's).
        use_item_ids: embed item ids.
        use_features: embed the data run's item features (`vocab/item_features.parquet`); off,
            or without that file, the ranker reads ids only.
        use_retriever_rank: combine the score with the log of each candidate's retriever rank.
        blend: how (one of `BLENDS`): `"stacked"` trains the attention model blind to the
            rank on the training positions, then fits the two weights of score and log rank on
            the honest (held-out validation) examples; `"joint"` feeds the rank to the MLP and
            trains everything on the honest examples (plus any extra positions).
        extra_positions: training examples from each user's last `extra_positions` training
            targets (with `"stacked"`, the attention model's whole training set; at least 1).
        validation_share: with `"joint"`, the share of the examples' users held out for early
            stopping (`"stacked"` early-stops on the honest examples).
        epochs: most training epochs (early stopping on the held-out loss, patience 2).
        batch_size: examples per step.
        learning_rate: Adam's learning rate.
        seed: seeds the split, the initialisation and the shuffling.
    """

    num_candidates: int = 100
    hidden_dim: int = 64
    num_heads: int = 2
    hidden_units: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    id_dropout: float = 0.1
    max_features: int = 8
    max_length: int | None = None
    use_item_ids: bool = True
    use_features: bool = True
    use_retriever_rank: bool = True
    blend: str = "stacked"
    extra_positions: int = 1
    validation_share: float = 0.1
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self):
        for name in ("num_candidates", "hidden_dim", "num_heads", "max_features", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected {name} to be an int >= 1. Received: {name}={value!r}")
        if self.batch_size < 1 or self.extra_positions < 0:
            raise ValueError(
                "Expected batch_size >= 1 and extra_positions >= 0. Received: "
                f"batch_size={self.batch_size}, extra_positions={self.extra_positions}"
            )
        if self.blend not in BLENDS:
            raise ValueError(f"Expected blend 'stacked' or 'joint'. Received: blend={self.blend!r}")
        if self.blend == "stacked" and self.use_retriever_rank and self.extra_positions < 1:
            raise ValueError(
                "Expected extra_positions >= 1 with blend='stacked' (the attention model trains "
                f"on them). Received: extra_positions={self.extra_positions}"
            )
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"Expected max_length >= 1. Received: max_length={self.max_length}")
        if not 0 <= self.validation_share < 1:
            raise ValueError(
                f"Expected validation_share in [0, 1). Received: "
                f"validation_share={self.validation_share}"
            )
        if not self.learning_rate > 0:
            raise ValueError(
                f"Expected learning_rate > 0. Received: learning_rate={self.learning_rate}"
            )
        if not self.hidden_units or any(units < 1 for units in self.hidden_units):
            raise ValueError(
                "Expected hidden_units to be positive widths. "
                f"Received: hidden_units={self.hidden_units!r}"
            )

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["hidden_units"] = list(self.hidden_units)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> RankerConfig:
        names = {field.name for field in dataclasses.fields(cls)}
        kept = {key: value for key, value in values.items() if key in names}
        if "hidden_units" in kept:
            kept["hidden_units"] = tuple(kept["hidden_units"])
        return cls(**kept)
