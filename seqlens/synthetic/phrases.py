"""The vocabulary of the generated texts: tickers, company names, finance phrases, chat intents.

Shared by the demo's generator (`seqlens.synthetic.generator`) and the planted-spike generator
(`seqlens.synthetic.planted_spikes`), so that a sentiment model trained on one can score the other.
"""

from __future__ import annotations

import numpy as np

TICKERS = (
    "AAPL",
    "MSFT",
    "GOOG",
    "AMZN",
    "TSLA",
    "NVDA",
    "META",
    "JPM",
    "XOM",
    "PFE",
    "KO",
    "DIS",
    "NFLX",
    "INTC",
    "BA",
    "WMT",
    "GS",
    "NKE",
    "ORCL",
    "AMD",
)
COMPANIES = {
    "AAPL": "Apple",
    "MSFT": "Microsoft",
    "GOOG": "Alphabet",
    "AMZN": "Amazon",
    "TSLA": "Tesla",
    "NVDA": "Nvidia",
    "META": "Meta",
    "JPM": "JPMorgan",
    "XOM": "Exxon",
    "PFE": "Pfizer",
    "KO": "Coca-Cola",
    "DIS": "Disney",
    "NFLX": "Netflix",
    "INTC": "Intel",
    "BA": "Boeing",
    "WMT": "Walmart",
    "GS": "Goldman Sachs",
    "NKE": "Nike",
    "ORCL": "Oracle",
    "AMD": "AMD",
}

POSITIVE_PHRASES = (
    "shares jump {pct} after earnings beat estimates",
    "raises full-year guidance on strong demand",
    "reports record quarterly revenue, up {pct}",
    "stock rallies as analysts upgrade to buy",
    "wins a major contract worth {money}",
    "profit surges {pct}, beating expectations",
    "announces a {money} buyback, investors cheer",
    "hits an all-time high on robust growth",
)
NEGATIVE_PHRASES = (
    "shares plunge {pct} after earnings miss",
    "cuts guidance as demand weakens",
    "faces a probe over accounting irregularities",
    "stock tumbles as analysts downgrade to sell",
    "reports a {money} loss and announces layoffs",
    "recalls products after safety failures",
    "profit falls {pct}, missing estimates badly",
    "warns of weak sales and rising costs",
)
NEUTRAL_PHRASES = (
    "to present at the industry conference next week",
    "schedules its quarterly earnings call for {weekday}",
    "names a new chief financial officer",
    "shares were little changed in early trading",
    "will hold its annual shareholder meeting in {month}",
    "files its quarterly report with the regulator",
    "opens a new office in {city}",
    "trading volume was in line with the average",
)
NEGATED_POSITIVE = (
    "did not meet expectations this quarter",
    "shares don't look cheap after the selloff, no recovery in sight",
)

INTENT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "card_lost": (
        "I lost my card",
        "my card was stolen yesterday",
        "can't find my debit card anywhere",
        "someone took my wallet with my card",
        "please block my card, it is lost",
    ),
    "check_balance": (
        "what is my balance",
        "how much money do I have",
        "show me my account balance",
        "can you tell me the balance on my savings",
        "balance please",
    ),
    "transfer_money": (
        "I want to send money to my friend",
        "how do I transfer {money} to another account",
        "make a transfer to my landlord",
        "send {money} to John",
        "wire money abroad",
    ),
    "refund_request": (
        "I want a refund for a double charge",
        "the merchant charged me twice, refund please",
        "how do I get my money back for this purchase",
        "refund the {money} fee",
        "I was charged for something I returned",
    ),
    "reset_password": (
        "I forgot my password",
        "how do I reset my password",
        "can't log in to the app",
        "my account is locked after wrong passwords",
        "change my login password",
    ),
    "loan_inquiry": (
        "can I get a loan",
        "what are your mortgage rates",
        "I want to borrow {money}",
        "how do I apply for a personal loan",
        "loan interest rate for a car",
    ),
    "change_address": (
        "I moved, update my address",
        "change the address on my account",
        "how do I update my home address",
        "new address for my statements",
        "I have a new home",
    ),
    "complaint": (
        "your service is terrible",
        "I want to file a complaint",
        "the app keeps crashing, awful",
        "I waited an hour on the phone, unacceptable",
        "very unhappy with your branch staff",
    ),
}


def fill_template(template: str, rng: np.random.Generator) -> str:
    """A phrase template with its `{pct}`, `{money}`, `{weekday}`, `{month}`, `{city}` filled in."""
    return template.format(
        pct=f"{rng.uniform(1, 25):.1f}%",
        money=f"${rng.integers(1, 900)}{rng.choice(['m', 'bn', ''])}",
        weekday=rng.choice(["Monday", "Tuesday", "Thursday"]),
        month=rng.choice(["March", "May", "June"]),
        city=rng.choice(["Austin", "Dublin", "Singapore", "Berlin"]),
    )
