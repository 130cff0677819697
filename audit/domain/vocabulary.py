"""The fixed keyed lists besides origins: a rule's status, relation impact and values touched,
and the kinds of concern raised with a vote."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# ``proposed``: a rule added by hand that waits for a team session to keep it; not yet in force
# (audit/domain/rules.py, docs/design.md "The mirror check").
STATUSES = {
    "proposed": _l("Proposed"),
    "active": _l("Active"),
    "under_review": _l("Under review"),
    "adapted": _l("Adapted"),
    "dropped": _l("Dropped"),
}

IMPACTS = {
    "hinders": _l("Hinders"),
    "neutral": _l("Neutral"),
    "supports": _l("Supports"),
}

VALUES = {
    "autonomy": _l("Autonomy"),
    "privacy": _l("Privacy"),
    "dignity": _l("Dignity"),
    "safety": _l("Safety"),
    "independence": _l("Independence"),
}

# What a member fears when a rule would go ("beren op de weg"), ticked with a vote
# (audit/domain/concerns.py). The keys are in the concerns table's CHECK (migration 9).
CONCERN_KINDS = {
    "inspectorate": _l("Fear of the inspectorate"),
    "incident": _l("An incident"),
    "reaction": _l("A colleague's or family's reaction"),
    "other": _l("Something else"),
}
