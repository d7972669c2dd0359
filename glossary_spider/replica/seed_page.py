"""The one page known in full (shared/seeds/international-legal-cooperation.md), and its neighbours.

The replica serves it as its own definition page, with the same text, the same 8
related definitions and the same 9 Discover More items, so extraction is tested
against a real page's content.
"""

from __future__ import annotations

PATH = "/definition/international-legal-cooperation/"

SEED = {
    "slug": "international-legal-cooperation",
    "title": "International Legal Cooperation",
    "meaning": "Efforts between nations to coordinate regulatory standards and share data to prevent "
    "financial crime and market risks.",
    "published": "2026-03-18T22:05:46+00:00",
    "modified": "2026-03-18T22:06:23+00:00",
    "paragraphs": (
        "International legal cooperation refers to the efforts between nations to coordinate their "
        "regulatory approaches and share information to combat financial crime and manage market risk. "
        "This is vital for the crypto-derivatives market, where a single incident of fraud or systemic "
        "failure can have global consequences.",
        "Through bodies like the Financial Action Task Force, countries are working to establish common "
        "standards for digital assets. This cooperation helps to reduce the effectiveness of regulatory "
        "arbitrage and makes it harder for illicit actors to move funds across borders.",
        "However, it is a slow and often political process. Without strong international cooperation, "
        "the global market for crypto-derivatives will remain vulnerable to fragmentation and the "
        "potential for regulatory-induced instability.",
    ),
    "related": (
        ("legal-technology", "Legal Technology"),
        ("cross-border-capital-flows", "Cross-Border Capital Flows"),
        ("cross-border-legal-risk-management", "Cross-Border Legal Risk Management"),
        ("financial-action-task-force", "Financial Action Task Force"),
        ("regulatory-compliance-gaps", "Regulatory Compliance Gaps"),
        ("cross-border-market-access", "Cross-Border Market Access"),
        ("compliance-burden", "Compliance Burden"),
        ("decentralized-exchange-legal-frameworks", "Decentralized Exchange Legal Frameworks"),
    ),
    "discover": (
        ("/definition/vasp-interoperability/", "VASP Interoperability",
         "The capacity for different crypto service providers to securely exchange data for regulatory "
         "compliance and transactions."),
        ("/term/trading-venue-regulation/", "Trading Venue Regulation",
         "Trading Venue Regulation standardizes the structural rules and risk management protocols "
         "necessary to ensure the integrity of digital asset markets."),
        ("/definition/anti-money-laundering-compliance-protocols/", "Anti-Money Laundering Compliance Protocols",
         "Systems and processes designed to identify and block the integration of illicit funds into the "
         "financial ecosystem."),
        ("/definition/international-cooperation/", "International Cooperation",
         "Collaborative efforts between nations to create shared standards and enforce laws against "
         "cross-border financial risks."),
        ("/definition/regulatory-enforcement-risk/", "Regulatory Enforcement Risk",
         "The potential for government legal action and penalties due to non-compliance with evolving "
         "financial regulations."),
        ("/definition/asset-eligibility/", "Asset Eligibility",
         "The criteria defining which digital assets qualify for use as collateral or trading instruments "
         "on a financial platform."),
        ("/term/financial-derivatives-regulation/", "Financial Derivatives Regulation",
         "Financial Derivatives Regulation establishes the legal and technical boundaries for managing "
         "systemic risk in automated digital asset trading."),
        ("/definition/regulatory-surveillance-tools/", "Regulatory Surveillance Tools",
         "Software systems designed to automatically detect and flag illegal or suspicious trading "
         "activities in real-time."),
        ("/term/legal-risk-management/", "Legal Risk Management",
         "Legal Risk Management provides the essential framework for reconciling immutable smart contract "
         "execution with the realities of global legal oversight."),
    ),
    "image": "/wp-content/uploads/2025/12/analyzing-interconnected-risk-dynamics-in-defi-structured-products-"
    "and-cross-collateralization-mechanisms.jpg",
    "image_caption": "A tightly tied knot in a thick, dark blue cable is prominently featured against a dark "
    "background, with a slender, bright green cable intertwined within the structure. The image serves as a "
    "powerful metaphor for the intricate structure of financial derivatives and smart contracts within "
    "decentralized finance ecosystems.",
}


def pages() -> list[tuple[str, str, str, str]]:
    """(kind, slug, title, meaning) of the seed page and every page it links to."""
    found = [("definition", SEED["slug"], SEED["title"], SEED["meaning"])]
    for slug, title in SEED["related"]:
        found.append(("definition", slug, title, f"{title} in the regulation of crypto-derivatives."))
    for path, title, meaning in SEED["discover"]:
        kind, slug = path.strip("/").split("/")
        found.append((kind, slug, title, meaning))
    return found
