"""Vocabulary and sentence makers for the replica's text, all driven by a seeded RNG."""

from __future__ import annotations

import random
import re
from collections.abc import Container

FIRST = (
    "Delta", "Gamma", "Vega", "Theta", "Rho", "Implied", "Realized", "Perpetual", "Funding",
    "Margin", "Liquidation", "Basis", "Volatility", "Option", "Futures", "Collateral", "Cross",
    "Isolated", "Settlement", "Oracle", "Liquidity", "Order", "Counterparty", "Protocol", "Vault",
    "Synthetic", "Covered", "Protective", "Calendar", "Butterfly", "Barrier", "Binary", "Exotic",
    "Automated", "Decentralized", "On-Chain", "Tokenized", "Leveraged", "Inverse", "Quanto",
)
SECOND = (
    "Hedging", "Skew", "Surface", "Rate", "Risk", "Spread", "Arbitrage", "Engine", "Pool", "Book",
    "Model", "Decay", "Exposure", "Premium", "Curve", "Mechanism", "Buffer", "Threshold",
    "Cascade", "Netting", "Clearing", "Insurance", "Auction", "Index", "Feed", "Ladder", "Swap",
    "Strategy", "Framework", "Efficiency", "Fragmentation", "Compression", "Smile", "Term Structure",
)
THIRD = ("Dynamics", "Management", "Design", "Analysis", "Control", "Optimization", "Modeling", "Governance")
AREA_WORDS = (
    "Vega", "Greeks", "Volatility", "Funding", "Liquidation", "Margin", "Options", "Perpetuals",
    "Oracles", "Liquidity", "Settlement", "Collateral", "Hedging", "Arbitrage", "Basis", "Skew",
    "Clearing", "Leverage", "Custody", "Compliance",
)
PHRASES = (
    "the sensitivity of an option’s price to changes in the underlying",
    "how margin requirements adapt to market stress",
    "the transfer of risk between liquidity providers and traders",
    "the pricing of convexity in decentralized venues",
    "the interaction between funding rates and spot prices",
    "the role of collateral quality in solvency",
    "the feedback loop between liquidations and volatility",
    "the cost of carrying a hedged position over time",
    "the way order books absorb large trades",
    "the settlement of contracts against an external price feed",
    "capital efficiency across isolated and cross-margined accounts",
    "the fragmentation of liquidity across chains",
)
SENTENCES = (
    "{t} describes {p}.",
    "In crypto-derivatives markets, {t} shapes {p}.",
    "Traders watch {t} because it reveals {p}.",
    "{t} matters most when markets move fast ⎊ that is when {p} is tested.",
    "Protocols that ignore {t} tend to misprice {p}.",
    "A careful reading of {t} shows {p} at work.",
    "The “{t}” lens explains {p} — and where it breaks down.",
    "Risk desks model {t} to anticipate {p}.",
)
LEADS = ("Collateral", "Execution", "Pricing", "Settlement", "Monitoring", "Hedging", "Governance")
ALT = (
    "A layered mechanism of interlocking blue and green components illustrates the architecture of a "
    "decentralized derivatives protocol, with nested parts standing for smart contract layers.",
    "A close-up of a glowing green sphere cradled in a dark form represents the binary states of an "
    "options contract and the transition between in-the-money and out-of-the-money positions.",
    "Interlocking beige and dark blue elements suggest the tranches of a structured product and the "
    "flow of collateral through automated settlement.",
)


def slugify(title: str, taken: Container[str]) -> str:
    """WordPress's slug for ``title``: lower-case words joined by ``-``, ``-2`` and on for repeats."""
    base = re.sub(r"[^a-z0-9]+", "-", title.lower().replace("&", "")).strip("-")
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


class TitleMaker:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def post(self) -> str:
        words = [self.rng.choice(FIRST), self.rng.choice(SECOND)]
        if self.rng.random() < 0.35:
            words.append(self.rng.choice(THIRD))
        return " ".join(words)

    def area(self) -> str:
        word = self.rng.choice(AREA_WORDS)
        # Near-duplicate areas are common on the real site (vega, vega-greek, greeks-vega).
        return self.rng.choice([word, word, f"{word} {self.rng.choice(SECOND)}", f"Greeks {word}"])


def sentence(title: str, rng: random.Random) -> str:
    return rng.choice(SENTENCES).format(t=title, p=rng.choice(PHRASES))


def paragraph(title: str, rng: random.Random) -> str:
    return " ".join(sentence(title, rng) for _ in range(rng.randint(2, 4)))


def meaning(title: str, rng: random.Random) -> str:
    return f"{title} captures {rng.choice(PHRASES)}."


def alt_text(rng: random.Random) -> str:
    return rng.choice(ALT)
