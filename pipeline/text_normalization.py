"""The one definition of text normalisation and tokenisation, shared by pipelines and models.

The news/chats pipelines tokenise with `normalize_text` / `tokenize` (pure Python), and the
text models apply the *same* rules in-graph with `normalize_text_tensor` (TensorFlow
`tf.strings.regex_replace`), so a SavedModel takes raw text and tokenises it exactly as the
training data was. The rules are written in the common subset of Python `re` and RE2 syntax
(no look-arounds, no `\\w`/`\\b`/`\\d`, whose meaning differs between the two on non-ASCII text),
and a test checks both implementations agree, including on non-Latin scripts.

Finance-aware rules, in order:
0. control characters (C0 incl. NUL, DEL, C1 incl. U+0085) and Unicode spaces and line
   separators -> spaces, *before* lower-casing (TensorFlow's UTF-8 `lower` stops at a NUL);
1. lower-case (Unicode-aware in both implementations);
2. typographic apostrophes and quotes -> ASCII;
3. URLs -> `<url>`; user mentions `@name` -> `<user>`;
4. amounts of money `$12.5m` -> `<money>`; percentages `-3.5%` -> `<percent>`;
5. cashtags `$AAPL` -> the token `$aapl` (kept: the ticker matters);
6. other numbers -> `<number>`;
7. negations: `don't` -> `do not`, `can't` -> `can not`, so `not` is its own token;
8. ASCII and common Unicode punctuation -> spaces; spaces collapsed and stripped.

After rule 0 the only whitespace left is the ASCII space, so Python's `strip(" ")` and
TensorFlow's `tf.strings.strip` (ASCII whitespace) remove the same characters.
"""

from __future__ import annotations

import re
from typing import Any

URL_TOKEN = "<url>"
USER_TOKEN = "<user>"
MONEY_TOKEN = "<money>"
PERCENT_TOKEN = "<percent>"
NUMBER_TOKEN = "<number>"
SPECIAL_TOKENS = (URL_TOKEN, USER_TOKEN, MONEY_TOKEN, PERCENT_TOKEN, NUMBER_TOKEN)

_PUNCTUATION = r"""[!"#%&'()*+,\-./:;=?@\[\]^_`{|}~\\“”„‘’«»—–…•·¡¿、。，！？：；（）]"""

# Control characters (C0, DEL, C1) and the Unicode space and line-separator characters. Written
# with `\xNN` escapes for the control range (a NUL never appears literally in the pattern) and
# literal characters for the rest, which Python `re` and RE2 read alike.
_CONTROLS_AND_SPACES = (
    r"[\x00-\x1f\x7f-\x9f"
    "\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)

# (name, pattern, replacement) applied before lower-casing.
PRE_LOWERCASE_RULES: tuple[tuple[str, str, str], ...] = (
    ("controls_and_spaces", _CONTROLS_AND_SPACES, " "),
)

# (name, pattern, replacement), applied in order after lower-casing. Valid in Python `re`
# and RE2 alike; replacements use only `\1`-style group references understood by both.
NORMALIZATION_RULES: tuple[tuple[str, str, str], ...] = (
    ("apostrophes", "[’‘`´]", "'"),
    ("urls", r"(https?://|www\.)[^ ]+", f" {URL_TOKEN} "),
    ("mentions", r"@[a-z0-9_]+", f" {USER_TOKEN} "),
    # A unit directly after the amount (`$5bn`, `$2m`) or a spelled-out one after a space
    # (`$5 billion`); never a letter of the next word (`$101 buyback` keeps `buyback`).
    (
        "money",
        r"\$[0-9][0-9,]*(\.[0-9]+)?( ?(billion|million|thousand)|bn|mn|[kmb])?",
        f" {MONEY_TOKEN} ",
    ),
    ("percentages", r"[+-]?[0-9][0-9,]*(\.[0-9]+)? ?(%|percent|pct)", f" {PERCENT_TOKEN} "),
    ("cashtags", r"\$([a-z][a-z.]{0,5})", r" $\1 "),
    ("numbers", r"[+-]?[0-9][0-9,]*(\.[0-9]+)?", f" {NUMBER_TOKEN} "),
    ("negation_cant", r"can't", "can not"),
    ("negation_wont", r"won't", "will not"),
    ("negations", r"n't", " not"),
    ("punctuation", _PUNCTUATION, " "),
    ("cashtag_dots", r"(\$[a-z]+)\.", r"\1 "),
    ("whitespace", r" +", " "),
)

_COMPILED_PRE_LOWERCASE_RULES = tuple(
    (re.compile(pattern), replacement) for _, pattern, replacement in PRE_LOWERCASE_RULES
)
_COMPILED_RULES = tuple(
    (re.compile(pattern), replacement) for _, pattern, replacement in NORMALIZATION_RULES
)


def normalize_text(text: str) -> str:
    """Normalise one text with the shared rules (pure Python).

    Args:
        text: raw text from a log; `None` is treated as the empty string.

    Returns:
        The normalised text: lower-case, special tokens substituted, punctuation removed,
        single spaces between tokens, no leading or trailing space.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        raise ValueError(f"Expected text to be a str. Received: text={text!r}")
    normalized = text
    for pattern, replacement in _COMPILED_PRE_LOWERCASE_RULES:
        normalized = pattern.sub(replacement, normalized)
    normalized = normalized.lower()
    for pattern, replacement in _COMPILED_RULES:
        normalized = pattern.sub(replacement, normalized)
    return normalized.strip(" ")


def tokenize(text: str) -> list[str]:
    """Normalise `text` and split it into tokens (the pipeline's and the models' tokeniser)."""
    normalized = normalize_text(text)
    return normalized.split(" ") if normalized else []


def normalize_text_tensor(texts: Any) -> Any:
    """The same normalisation as `normalize_text`, in-graph, for a string tensor of any shape.

    Needs TensorFlow (imported here, not at module level). Used by the text models' serving
    signatures so that raw text is tokenised exactly as in training.

    Args:
        texts: a `tf.string` tensor, shape `(...)`.

    Returns:
        A `tf.string` tensor of the same shape with the normalised texts.
    """
    import tensorflow as tf

    normalized = texts
    for _, pattern, replacement in PRE_LOWERCASE_RULES:
        normalized = tf.strings.regex_replace(normalized, pattern, replacement)
    normalized = tf.strings.lower(normalized, encoding="utf-8")
    for _, pattern, replacement in NORMALIZATION_RULES:
        normalized = tf.strings.regex_replace(normalized, pattern, replacement)
    return tf.strings.strip(normalized)
