"""`loss="auto"`: the training loss chosen by the catalogue's size, with the reason recorded.

The full softmax scores every item at every training position: `O(V * D)` per position, exact,
and the strongest under full ranking. The sampled softmax (log-Q corrected, `num_negatives`
shared negatives per batch) costs `O(K * D)` whatever the catalogue. The rule: the full softmax
up to `FULL_SOFTMAX_MAX_ITEMS` items, the sampled softmax above.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.recommender.config import RecommenderConfig

# Amazon Games (23,715 items) trains a full-softmax epoch in ~28 s on a 2-core CPU and reaches
# its benchmarked figures in ~20 epochs, well inside the default 15-minute budget, as do
# Sports (18,357), Toys (11,924) and MovieLens (9,724 items). A 54,542-item catalogue took
# 260-425 s per full-softmax epoch (issue 23): 2-3 epochs in 15 minutes, and lost to a Markov
# chain. 30,000 items sits between the two; above it the sampled softmax's output layer
# (1,024 negatives) costs 30x-1,000x less per position. To be confirmed by the quality/time
# curve of `bench/recommender_defaults.py --loss-curve`.
FULL_SOFTMAX_MAX_ITEMS = 30_000
SOFTMAX_ONLY_OPTIONS = ("exclude_history_from_loss", "pairwise_weight", "label_smoothing")


@dataclass(frozen=True)
class LossChoice:
    """The loss a run trains with and why (`history.json`'s `loss_rule`)."""

    loss: str
    reason: str
    num_items: int

    def to_dict(self) -> dict:
        return {"chosen": self.loss, "reason": self.reason, "num_items": self.num_items}


def choose_loss(config: RecommenderConfig, num_items: int) -> LossChoice:
    """The loss `config` trains with on a catalogue of `num_items` items.

    An explicit `config.loss` is kept. `"auto"`: the full softmax when a softmax-only option
    (`SOFTMAX_ONLY_OPTIONS`) is set or when `num_items <= FULL_SOFTMAX_MAX_ITEMS`; otherwise
    the sampled softmax with log-Q correction.

    Args:
        config: the run's configuration.
        num_items: items in the catalogue (the vocabulary without padding and OOV).
    """
    if not isinstance(num_items, int) or num_items < 0:
        raise ValueError(
            f"Expected num_items to be a non-negative integer. Received: num_items={num_items!r}"
        )
    if config.loss != "auto":
        return LossChoice(config.loss, f"loss={config.loss!r} set explicitly", num_items)
    options = [name for name in SOFTMAX_ONLY_OPTIONS if getattr(config, name)]
    if options:
        return LossChoice(
            "softmax", f"auto: {', '.join(options)} set (full-softmax options)", num_items
        )
    if num_items <= FULL_SOFTMAX_MAX_ITEMS:
        return LossChoice(
            "softmax",
            f"auto: {num_items:,} items <= {FULL_SOFTMAX_MAX_ITEMS:,}, the full softmax fits",
            num_items,
        )
    return LossChoice(
        "sampled_softmax",
        f"auto: {num_items:,} items > {FULL_SOFTMAX_MAX_ITEMS:,}: sampled softmax with "
        f"{config.num_negatives} log-Q corrected negatives per batch"
        + (" and the batch's own targets (mixed)" if config.in_batch_negatives else ""),
        num_items,
    )
