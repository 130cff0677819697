"""The fixed keyed lists of a rule besides origins: status, relation impact, values touched."""

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
