"""Finance headlines and tweets as hard to classify as real ones.

A text's tone (`negative` / `neutral` / `positive`) is what a reader concludes, not what its
words say one by one:

- **negation**: "is not expected to cut its dividend" (positive), "fails to beat estimates";
- **hedges**: "could", "may", "people familiar say": speculation stays neutral;
- **mixed sentiment**: "misses on revenue, but raises its full-year outlook": the clause after
  "but" decides;
- **numbers that decide the tone**: "EPS $1.31 vs $1.12 expected" (a beat) against
  "EPS $0.94 vs $1.12 expected" (a miss), "margin 14.2%, down from 16.0%";
- **sarcasm**: "great, another guidance cut /s", "love how $TSLA keeps making new lows 🙃";
- company names and cashtags, newswire and tweet styles, and a neutral majority (set by the
  caller's tone mix).

`compose_finance_text` builds one text; `noisy_label` replaces a share of labels by a random
tone (annotator disagreement), so that no model reaches 100%.
"""

from __future__ import annotations

import numpy as np

from seqlens.synthetic.phrases import (
    NEGATIVE_PHRASES,
    NEUTRAL_PHRASES,
    POSITIVE_PHRASES,
    fill_template,
)

TONES = ("negative", "neutral", "positive")

NEGATED_NEGATIVE = (  # positive tone in negative words
    "is not expected to cut its dividend, analysts say",
    "shares did not fall despite the wider selloff",
    "no longer faces the accounting probe after regulators drop the case",
    "avoids layoffs as orders hold up better than feared",
    "denies reports of a product recall; shares recover losses",
    "says demand has not weakened, contrary to fears",
    "won't need to raise capital after all, CFO says",
)
NEGATED_POSITIVE = (  # negative tone in positive words
    "did not meet expectations this quarter",
    "fails to beat estimates for a third straight quarter",
    "no longer expects growth this year",
    "is not expected to raise guidance, analysts warn",
    "shares don't look cheap after the rally, no upside left, says broker",
    "never delivered the promised margin improvement",
    "can't sustain its record growth, CEO admits",
)
HEDGED = (  # speculation: neutral
    "could announce a {money} buyback, people familiar with the matter say",
    "may face questions about margins at next week's conference",
    "analysts split on whether shares can rise further",
    "might cut prices to defend market share, a report suggests",
    "shares could move sharply either way after {weekday}'s earnings",
    "is said to explore options for its {city} unit; no decision yet",
    "may or may not raise guidance, depending on demand",
)
GOOD_CLAUSES = (
    "raises its full-year outlook",
    "beats on revenue",
    "reports strong subscriber growth",
    "announces a {money} buyback",
    "wins a major contract",
    "margins improve",
)
BAD_CLAUSES = (
    "cuts its outlook",
    "misses on earnings",
    "warns of weak demand",
    "reports a {money} loss",
    "announces layoffs",
    "margins shrink",
)
SARCASTIC = (  # positive words, negative tone (tweets)
    "great, another guidance cut from {name} /s",
    "love how {cashtag} keeps making new lows 🙃",
    "what a stellar quarter... revenue down {pct}",
    "oh wonderful, more layoffs at {name}. bullish /s",
    "{cashtag} holders having a fantastic day, only down {pct} 🙃",
    "thanks {name}, I always wanted to lose {pct} in a day /s",
)
TWEET_TAILS = ("", "", " imo", " 🚀", " 📉", " #stocks", " #earnings", " lol", " ngl")


def _numbers_text(tone: str, rng: np.random.Generator) -> str:
    """A sentence whose tone only its numbers tell (a beat, a miss, or in line)."""
    expected = round(float(rng.uniform(0.4, 3.0)), 2)
    move = {"positive": 1.0, "negative": -1.0, "neutral": 0.0}[tone]
    if rng.random() < 0.5:
        actual = expected * (1.0 + move * float(rng.uniform(0.06, 0.25)))
        if tone == "neutral":
            actual = expected
        return f"Q{int(rng.integers(1, 5))} EPS ${actual:.2f} vs ${expected:.2f} expected"
    before = float(rng.uniform(8, 30))
    after = before + move * float(rng.uniform(1.0, 4.0))
    if tone == "neutral":
        return f"operating margin {before:.1f}%, same as a year ago"
    return f"operating margin {after:.1f}%, from {before:.1f}% a year ago"


def _mixed_text(tone: str, rng: np.random.Generator) -> str:
    """Two clauses of opposite tone; the one after "but" decides (both halves weigh the same
    for a neutral text, joined by "while")."""
    good = fill_template(str(rng.choice(GOOD_CLAUSES)), rng)
    bad = fill_template(str(rng.choice(BAD_CLAUSES)), rng)
    if tone == "positive":
        return f"{bad}, but {good}"
    if tone == "negative":
        return f"{good}, but {bad}"
    return f"{good} while it {bad}" if rng.random() < 0.5 else f"{bad} while it {good}"


def compose_finance_text(
    tone: str, name: str, ticker: str, tweet: bool, rng: np.random.Generator
) -> str:
    """One headline (or tweet) about `name` / `$ticker` whose reader would call it `tone`.

    Args:
        tone: `negative`, `neutral` or `positive`.
        name: the company name.
        ticker: the ticker symbol (written as a cashtag).
        tweet: tweet style (cashtag first, lower case, tails) instead of a newswire headline.
        rng: random state.
    """
    if tone not in TONES:
        raise ValueError(f"Expected tone to be one of {TONES}. Received: tone={tone!r}")
    cashtag = f"${ticker}"
    draw = rng.random()
    if tone == "negative" and tweet and draw < 0.2:
        template = str(rng.choice(SARCASTIC)).replace("{name}", name)
        return fill_template(template.replace("{cashtag}", cashtag), rng)
    if draw < 0.4:
        plain = {"negative": NEGATIVE_PHRASES, "neutral": NEUTRAL_PHRASES}
        phrase = str(rng.choice(plain.get(tone, POSITIVE_PHRASES)))
    elif draw < 0.6:
        hard = {"negative": NEGATED_POSITIVE, "neutral": HEDGED, "positive": NEGATED_NEGATIVE}
        phrase = str(rng.choice(hard[tone]))
    elif draw < 0.8:
        phrase = _mixed_text(tone, rng)
    else:
        phrase = _numbers_text(tone, rng)
    phrase = fill_template(phrase, rng)
    subject = name if rng.random() < 0.6 else cashtag
    if not tweet:
        return f"{subject} {phrase}"
    tail = str(rng.choice(TWEET_TAILS))
    return f"{cashtag} {name.lower()} {phrase.lower()}{tail}"


def noisy_label(tone: str, noise: float, rng: np.random.Generator) -> str:
    """`tone`, or with probability `noise` a tone drawn uniformly (it may be the same one)."""
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"Expected noise in [0, 1). Received: noise={noise!r}")
    return str(rng.choice(TONES)) if rng.random() < noise else tone
