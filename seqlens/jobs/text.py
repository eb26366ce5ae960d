"""Train a sentiment or intent model from labelled texts: the work behind `seqlens train
sentiment|intent` and the batch step `train_text_model`.

Inputs: a CSV / JSONL(.gz) / Parquet file with `text` and a label column (`label`, `intent`,
`category`), a pipeline run folder (`texts/*.parquet` of `seqlens pipeline news|chats`), a
Financial PhraseBank `sentence@label` file (`.txt`), or twitter-financial-news CSV (labels
0/1/2 are mapped to negative/positive/neutral). Heavy libraries are imported inside functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The metrics a training run reports in its summary.
SUMMARY_METRICS = (
    "served_model",
    "wide_branch",
    "deep_branch",
    "oos_score",
    "oos_threshold",
    "training_seconds",
)


def read_labelled_texts(
    path: str | Path, task: str, text_column: str = "text", label_column: str | None = None
):
    """Read any supported labelled input into a DataFrame with `text`, `label` columns."""
    from models.text.datasets import TWITTER_LABELS, read_phrasebank, read_text_table

    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".txt":
        return read_phrasebank(path)
    table = read_text_table(
        path, text_column=text_column, label_column=label_column, require_labels=True
    )
    if task == "sentiment" and set(table["label"]) <= {"0", "1", "2"}:
        table["label"] = table["label"].map(lambda value: TWITTER_LABELS[int(value)])
    if task == "sentiment":
        table["label"] = table["label"].str.lower()
    return table


def read_unlabelled_texts(paths, text_column: str = "text") -> list[str]:
    """Distinct non-empty texts of the given logs, first occurrence order; StockNet-style
    records marked `retweet` are dropped (a retweet repeats another text)."""
    from models.text.datasets import read_text_table

    texts: dict[str, None] = {}
    for path in paths:
        table = read_text_table(path, text_column=text_column)
        if "retweet" in table.columns:
            table = table[~table["retweet"].fillna(False).astype(bool)]
        texts.update(dict.fromkeys(text for text in table["text"].astype(str) if text.strip()))
    return list(texts)


def text_training_config(task: str, embedding_dim: int = 96, **values: Any):
    """A `TextTrainingConfig` whose feed-forward width is twice `embedding_dim` (as the CLI's).

    Args:
        task: `sentiment` or `intent`.
        embedding_dim: width of the token embeddings.
        **values: other `TextTrainingConfig` fields (`epochs`, `seed`, ...).
    """
    from models.text.training import TextTrainingConfig

    return TextTrainingConfig(
        task=task, embedding_dim=embedding_dim, feed_forward_dim=2 * embedding_dim, **values
    )


def train_text_run(
    source: str | Path,
    output: str | Path,
    config,
    validation: str | Path | None = None,
    extra_train: Sequence[str] = (),
    unlabelled: Sequence[str] = (),
    text_column: str = "text",
    label_column: str | None = None,
) -> tuple[dict, str]:
    """Read the labelled texts of `source` and train `config.task`'s model into `output`.

    Args:
        source: labelled texts (any supported input; see the module docstring).
        output: the model folder to write.
        config: a `models.text.training.TextTrainingConfig`.
        validation: labelled validation texts (default: a stratified split of `source`).
        extra_train: auxiliary labelled texts for joint training.
        unlabelled: unlabelled texts for the masked-token pretraining.
        text_column, label_column: the columns of `source` and `validation`.

    Returns:
        The training metrics and a summary (the model folder and the headline metrics).
    """
    import pandas as pd

    from models.text.training import train_text_model

    task = config.task
    table = read_labelled_texts(source, task, text_column, label_column)
    validation_texts = None
    if validation:
        frame = read_labelled_texts(validation, task, text_column, label_column)
        validation_texts = (frame["text"].tolist(), frame["label"].tolist())
    auxiliary = None
    if extra_train:
        extra = pd.concat(
            [read_labelled_texts(path, task) for path in extra_train], ignore_index=True
        )
        auxiliary = (extra["text"].tolist(), extra["label"].tolist())
    unlabelled_texts = read_unlabelled_texts(unlabelled, text_column) if unlabelled else None
    metrics = train_text_model(
        table["text"].tolist(),
        table["label"].tolist(),
        config,
        Path(output),
        validation=validation_texts,
        auxiliary=auxiliary,
        unlabelled=unlabelled_texts,
        data_run={
            "input": str(source),
            "validation": None if validation is None else str(validation),
            "extra_train": list(extra_train),
            "unlabelled": list(unlabelled),
            "rows": len(table),
        },
    )
    headline = {key: value for key, value in metrics.items() if key in SUMMARY_METRICS}
    return metrics, f"model: {output}\n{json.dumps(headline, indent=2)}"
