"""Customer-service messages as messy as real ones, and real out-of-scope messages.

A message has one intent (what the customer asks for), but is written the way people write:

- **multi-sentence**: a greeting, some context, the request, a thank-you;
- **overlapping intents**: the context mentions another intent's words ("I moved house
  recently. I lost my card"), or a second, smaller request follows the first ("... also, what is
  my balance"): the (first) request decides;
- **ambiguous requests** that fit two intents, labelled either way (annotators disagree);
- **typos**: dropped, doubled and swapped letters;
- **out-of-scope messages** (`compose_out_of_scope`): questions no intent covers (the weather, a
  recipe, the football), written the same way; they are not in `chats.csv`'s labelled intents
  but in their own file, to measure out-of-scope detection.
"""

from __future__ import annotations

import numpy as np

from seqlens.synthetic.phrases import INTENT_TEMPLATES, fill_template

GREETINGS = ("", "", "hi. ", "hello! ", "good morning. ", "hey there, ", "dear support, ")
THANKS = ("", "", " thanks", " thank you!", " cheers.", " please help asap.", " regards")
# Sentences that mention an intent's words without asking for it (the overlap).
CONTEXT = {
    "card_lost": "my card worked fine last week.",
    "check_balance": "I checked my balance this morning.",
    "transfer_money": "I sent money to my landlord yesterday.",
    "refund_request": "I already got a refund from another shop.",
    "reset_password": "I changed my password last month.",
    "loan_inquiry": "I paid off my car loan last year.",
    "change_address": "I moved house recently.",
    "complaint": "your branch staff were nice last time.",
}
# Requests that fit two intents equally well (annotators split on them): the first-named intent
# and the second each get them half of the time.
AMBIGUOUS: dict[tuple[str, str], tuple[str, ...]] = {
    ("complaint", "refund_request"): (
        "I was charged twice and nobody helps, unacceptable",
        "your {money} fee is outrageous, I want it back",
    ),
    ("card_lost", "reset_password"): (
        "I can't get into my account and my card is gone",
        "locked out and can't find my card",
    ),
    ("check_balance", "transfer_money"): (
        "do I have enough money to send {money} to my landlord",
        "how much can I send today",
    ),
    ("card_lost", "change_address"): (
        "my new card went to my old address",
        "the card was posted to the house I moved out of",
    ),
    ("check_balance", "loan_inquiry"): (
        "how much could I borrow with what is in my account",
        "is my balance enough for a loan",
    ),
}
OUT_OF_SCOPE = (
    "what's the weather like in {city} tomorrow",
    "can you recommend a good pasta recipe",
    "who won the football match last night",
    "how tall is the eiffel tower",
    "tell me a joke",
    "what time is it in {city}",
    "book me a table for two on {weekday}",
    "how do I get to the airport from here",
    "what's a good movie to watch tonight",
    "translate thank you into spanish",
    "is it going to rain on {weekday}",
    "play some music",
)


def add_typos(text: str, rate: float, rng: np.random.Generator) -> str:
    """`text` with a share `rate` of its longer words misspelt (a letter dropped, doubled or
    swapped with its neighbour)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"Expected rate in [0, 1]. Received: rate={rate!r}")
    words = text.split(" ")
    for index, word in enumerate(words):
        if len(word) < 4 or not word.isalpha() or rng.random() >= rate:
            continue
        position = int(rng.integers(1, len(word) - 1))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            word = word[:position] + word[position + 1 :]
        elif kind == 1:
            word = word[:position] + word[position] + word[position:]
        else:
            word = word[: position - 1] + word[position] + word[position - 1] + word[position + 1 :]
        words[index] = word
    return " ".join(words)


def compose_chat(
    intent: str,
    rng: np.random.Generator,
    typo_rate: float = 0.1,
    ambiguous_rate: float = 0.15,
) -> str:
    """One customer message asking for `intent`.

    Args:
        intent: one of `INTENT_TEMPLATES`.
        rng: random state.
        typo_rate: share of longer words misspelt.
        ambiguous_rate: about this share of messages (over uniformly drawn intents) is a request
            that fits two intents (`AMBIGUOUS`).
    """
    if intent not in INTENT_TEMPLATES:
        raise ValueError(
            f"Expected intent to be one of {sorted(INTENT_TEMPLATES)}. Received: intent={intent!r}"
        )
    ambiguous = [templates for pair, templates in AMBIGUOUS.items() if intent in pair]
    if ambiguous and rng.random() < ambiguous_rate * len(AMBIGUOUS) / (2 * len(ambiguous)):
        templates = ambiguous[int(rng.integers(0, len(ambiguous)))]
        request = fill_template(str(rng.choice(templates)), rng)
    else:
        request = fill_template(str(rng.choice(INTENT_TEMPLATES[intent])), rng)
    parts = [str(rng.choice(GREETINGS))]
    if rng.random() < 0.45:  # context from another intent: overlapping vocabulary
        others = [name for name in sorted(CONTEXT) if name != intent]
        parts.append(CONTEXT[others[int(rng.integers(0, len(others)))]] + " ")
    parts.append(request)
    if rng.random() < 0.2:  # a second, smaller request: the first one is the intent
        others = [name for name in sorted(INTENT_TEMPLATES) if name != intent]
        second = INTENT_TEMPLATES[others[int(rng.integers(0, len(others)))]]
        parts.append(". also, " + fill_template(str(rng.choice(second)), rng).lower())
    elif rng.random() < 0.3:
        parts.append(". " + CONTEXT[intent].capitalize()[:-1] + " though")
    parts.append(str(rng.choice(THANKS)))
    text = "".join(parts).strip()
    if rng.random() < 0.5:
        text = text.lower()
    return add_typos(text, typo_rate, rng)


def compose_out_of_scope(rng: np.random.Generator, typo_rate: float = 0.08) -> str:
    """A message no intent covers, written like the in-scope ones."""
    request = fill_template(str(rng.choice(OUT_OF_SCOPE)), rng)
    text = f"{rng.choice(GREETINGS)}{request}{rng.choice(THANKS)}".strip()
    return add_typos(text, typo_rate, rng)
