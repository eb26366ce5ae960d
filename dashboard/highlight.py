"""Per-token attention highlighting, safe for untrusted text from logs.

Tokens come from tweets, news and chat messages: anyone can write `<script>` or
`<img src=x onerror=alert(1)>` into them. The HTML built here contains only:
fixed tags and attributes written by this module, numbers it formats itself, and token text
passed through `html.escape` (which escapes `<`, `>`, `&`, `"` and `'`). Nothing a log author
writes can open a tag or an attribute. Pages render the result with `st.html`, which
additionally sanitises HTML and never runs scripts (`unsafe_allow_javascript=False`).

`escape_markdown` is the counterpart for text shown through Markdown (`st.markdown`, `st.info`).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

# Highlight colour (RGB) mixed with transparency by the token's weight.
HIGHLIGHT_RGB = (255, 140, 0)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def normalised_weights(weights: Sequence[float]) -> list[float]:
    """Scale non-negative weights to [0, 1] by their maximum; NaN and negatives become 0."""
    cleaned = [
        float(w) if (w is not None and math.isfinite(float(w)) and w > 0) else 0.0 for w in weights
    ]
    largest = max(cleaned, default=0.0)
    if largest <= 0.0:
        return [0.0 for _ in cleaned]
    return [w / largest for w in cleaned]


def highlight_tokens_html(tokens: Sequence[str], weights: Sequence[float]) -> str:
    """HTML of the tokens, each with a background whose opacity is its attention weight.

    Args:
        tokens: the `T` tokens (untrusted text).
        weights: `T` attention weights (any non-negative scale; normalised by the maximum).

    Returns:
        A `<div>` of `<span>`s; each span's title shows the weight. Safe to render.
    """
    if len(tokens) != len(weights):
        raise ValueError(
            "Expected one weight per token. "
            f"Received: len(tokens)={len(tokens)}, len(weights)={len(weights)}"
        )
    red, green, blue = HIGHLIGHT_RGB
    spans = []
    for token, weight, share in zip(tokens, weights, normalised_weights(weights), strict=True):
        raw_weight = float(weight) if weight is not None and math.isfinite(float(weight)) else 0.0
        style = (
            f"background-color: rgba({red}, {green}, {blue}, {share:.3f}); "
            "padding: 1px 3px; margin: 1px; border-radius: 3px; display: inline-block"
        )
        spans.append(
            f'<span class="seqlens-token" style="{style}" title="attention {raw_weight:.3f}">'
            f"{html.escape(str(token), quote=True)}</span>"
        )
    return '<div class="seqlens-highlight" style="line-height: 1.9">' + " ".join(spans) + "</div>"


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown (and HTML-looking) characters so text shows literally."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
