"""Score news texts for sentiment: the trained text model, or a documented lexicon fallback.

`score_texts(texts, model)` returns one row per text with `label, score, confidence, tokens,
token_attention` (the `models.text.inference` contract). `model` is a trained sentiment model
folder (`seqlens train sentiment`), or the string `lexicon`: a small finance word list
(bullish / bearish words, negations flip the next word) — a transparent baseline used only where
no trained model exists, never silently.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

LEXICON_MODEL = "lexicon"
POSITIVE_WORDS = frozenset(
    """
beat beats bull bullish buy buying breakout gain gains grow growth high higher jump jumps long
outperform outperforms positive profit profits rally rallies record rise rises rising soar soars
strong surge surges up upgrade upgraded upside win wins boost boosts raise raised raises beat
exceeds exceeded top tops climb climbs green moon calls
""".split()
)
NEGATIVE_WORDS = frozenset(
    """
bear bearish cut cuts crash crashes decline declines down downgrade downgraded drop drops fall
falls fell fraud lawsuit loss losses low lower miss misses missed negative plunge plunges probe
recall sell selloff short slump slumps weak worse worst layoffs bankrupt bankruptcy warning warns
red puts dump dumps tumble tumbles sink sinks slide slides disappoint disappoints disappointing
""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "without", "isn't", "wasn't", "don't", "didn't"})


def lexicon_scores(texts: list[str]) -> pd.DataFrame:
    """The lexicon fallback: `score = (pos - neg) / (pos + neg + 1)`, label by `|score| >= 1/3`."""
    rows = []
    for text in texts:
        tokens = re.findall(r"[a-z$']+", text.lower())
        positive = negative = 0
        weights = []
        for position, token in enumerate(tokens):
            flip = position > 0 and tokens[position - 1] in NEGATIONS
            polarity = (token in POSITIVE_WORDS) - (token in NEGATIVE_WORDS)
            polarity = -polarity if flip else polarity
            positive += polarity > 0
            negative += polarity < 0
            weights.append(float(abs(polarity)))
        score = (positive - negative) / (positive + negative + 1)
        label = "negative" if score <= -1 / 3 else "positive" if score >= 1 / 3 else "neutral"
        total = sum(weights) or 1.0
        rows.append(
            {
                "label": label,
                "score": float(score),
                "confidence": float(0.5 + abs(score) / 2),
                "tokens": tokens,
                "token_attention": [w / total for w in weights],
            }
        )
    return pd.DataFrame(rows, columns=["label", "score", "confidence", "tokens", "token_attention"])


def score_texts(texts: list[str], model: str | Path, batch_size: int = 512) -> pd.DataFrame:
    """Score `texts` in batches.

    Args:
        texts: raw texts, `N` of them.
        model: a sentiment model folder, or `lexicon`.
        batch_size: texts per `predict` call.

    Returns:
        `N` rows: `label, score, confidence, tokens, token_attention` (each distinct text is
        scored once).
    """
    if batch_size < 1:
        raise ValueError(f"Expected batch_size >= 1. Received: batch_size={batch_size}")
    if str(model) == LEXICON_MODEL:
        logger.warning("scoring with the lexicon fallback, not a trained model")
        return lexicon_scores(texts)
    model_dir = Path(model)
    if not model_dir.exists():
        raise FileNotFoundError(
            "Expected a trained sentiment model folder (or 'lexicon'). "
            f"Received: model={str(model)!r}"
        )
    from models.text.inference import load_text_model

    text_model = load_text_model(model_dir)
    if getattr(text_model, "task", "sentiment") != "sentiment":
        raise ValueError(
            f"Expected a sentiment model. Received: model={str(model)!r} (task {text_model.task!r})"
        )
    # each distinct text is scored once (retweets and reposted headlines repeat a lot)
    unique_texts = list(dict.fromkeys(texts))
    positions = {text: index for index, text in enumerate(unique_texts)}
    parts = []
    for start in range(0, len(unique_texts), batch_size):
        batch = unique_texts[start : start + batch_size]
        predicted = text_model.predict(list(batch))
        parts.append(predicted)
        if (start // batch_size) % 20 == 0:
            logger.info(
                "scored %d / %d distinct texts",
                min(start + batch_size, len(unique_texts)),
                len(unique_texts),
            )
    if not parts:
        return pd.DataFrame(columns=["label", "score", "confidence", "tokens", "token_attention"])
    result = pd.concat(parts, ignore_index=True)
    result = result.iloc[[positions[text] for text in texts]].reset_index(drop=True)
    columns = [
        c
        for c in ("label", "score", "confidence", "tokens", "token_attention")
        if c in result.columns
    ]
    result = result[columns].copy()
    result["score"] = result["score"].astype("float64").clip(-1, 1)
    result["label"] = result["label"].astype(str).str.lower()
    if np.isnan(result["score"]).any():
        raise ValueError(f"Expected a sentiment model with scores. Received: model={str(model)!r}")
    return result
