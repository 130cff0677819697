"""Where rules come from: the nine origin keys, their groups, and the flags derived from them.

The same groups are written into the database as generated columns (audit/store/schema.py), so that
filters and figures can be computed in SQL; tests check both say the same.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# key -> label (English here, Dutch in the catalogue), in the order of docs/design.md
ORIGINS = {
    "law": _l("Law or regulation"),
    "inspectorate": _l("Inspectorate"),
    "financier": _l("Financier or contract"),
    "professional_standard": _l("Professional standard or guideline"),
    "certification": _l("Certification scheme"),
    "interpretation": _l("Own interpretation of an external rule"),
    "organisation": _l("Own organisation"),
    "team": _l("Team habit"),
    "unknown": _l("Unknown"),
}

GROUPS = {
    "external_mandatory": _l("external, mandatory"),
    "external_professional": _l("external, professional"),
    "external_chosen": _l("external, chosen"),
    "self_invented": _l("self-invented"),
    "not_traced": _l("not traced"),
}

GROUP_OF = {
    "law": "external_mandatory",
    "inspectorate": "external_mandatory",
    "financier": "external_mandatory",
    "professional_standard": "external_professional",
    "certification": "external_chosen",
    "interpretation": "self_invented",
    "organisation": "self_invented",
    "team": "self_invented",
    "unknown": "not_traced",
}

MANDATORY = frozenset(k for k, g in GROUP_OF.items() if g == "external_mandatory")
EXTERNAL = frozenset(k for k, g in GROUP_OF.items() if g.startswith("external"))
SELF_INVENTED = frozenset(k for k, g in GROUP_OF.items() if g == "self_invented")


def is_traced(verified: str | None) -> bool:
    return verified is not None and verified != "unknown"


def is_self_invented(verified: str | None) -> bool:
    return verified in SELF_INVENTED


def is_myth(perceived: str | None, verified: str | None) -> bool:
    """Believed to come from outside, found to be made in-house."""
    return perceived in EXTERNAL and verified in SELF_INVENTED


def is_mandatory(verified: str | None) -> bool:
    """Verified as an external, mandatory rule: a team may adapt it within its room, not drop it."""
    return verified in MANDATORY


def label(key: str | None) -> str:
    return str(ORIGINS[key]) if key in ORIGINS else ""
