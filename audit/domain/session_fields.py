"""The fields of a review session and of a decision, each named once, as ``Field`` lines of
audit/domain/fields.py (the same kinds and cleaning as the rule's).

``sessions.clean`` and ``decisions.record_decision`` clean by these tables, the stored columns
and the history's before/after follow them, the forms in ``views/sessions.py`` are built from
them and ``history.FIELD_LABELS`` takes their labels. What concerns more than one field, or the
database (do these teams exist, do these rules apply to them), stays in the domain module after
the per-field cleaning.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from audit.domain.fields import (
    CHOICE,
    FLAG,
    INTEGER,
    LONG_TEXT,
    MINUTES_MAX,
    MOMENT,
    REFERENCE,
    REFERENCES,
    TEXT,
    TEXT_MAX,
    Field,
    table,
)
from audit.domain.fields import TITLE_MAX as RULE_TITLE_MAX


def _whole_number(n: int) -> object:
    return _l("Enter a whole number from 0 to %(n)s.", n=n)


# --- review sessions ------------------------------------------------------------------------

MODES = {"online": _l("Online ballots"), "hands": _l("Show of hands")}
TITLE_MAX = 200
INTRO_MAX = 5000
MAX_RULES = 100
# More people than any organisation has; a larger number is a typing error (or an attack).
QUORUM_MAX = 1_000_000

SESSION_FIELDS = table(
    Field("title", _l("Title"), TEXT, TITLE_MAX, required=True, missing=_l("Enter a title.")),
    Field("introduction", _l("Introduction"), LONG_TEXT, INTRO_MAX),
    Field(
        "team_ids",
        _l("Teams"),
        REFERENCES,
        table="teams",
        required=True,
        missing=_l("Choose at least one team."),
        invalid=_l("No such team."),
    ),
    Field(
        "rule_ids",
        _l("Rules to review"),
        REFERENCES,
        table="rules",
        ordered=True,
        maximum=MAX_RULES,
        required=True,
        missing=_l("Choose at least one rule."),
        invalid=_l("No such rule."),
        too_large=_l("At most %(n)s rules in one session.", n=MAX_RULES),
    ),
    Field("mode", _l("How the team votes"), CHOICE, choices=MODES, default="online"),
    Field("anonymous", _l("Anonymous ballots"), FLAG, default=True),
    Field("opens_at", _l("Opens at"), MOMENT),
    Field("closes_at", _l("Closes at"), MOMENT),
    # Empty means the default: half of the teams' members (sessions.default_quorum).
    Field(
        "quorum",
        _l("Quorum"),
        INTEGER,
        maximum=QUORUM_MAX,
        invalid=_whole_number(QUORUM_MAX),
        too_large=_whole_number(QUORUM_MAX),
    ),
)

# --- decisions ------------------------------------------------------------------------------

OUTCOMES = {
    "keep": _l("Keep"),
    "adapt": _l("Adapt"),
    "drop": _l("Drop"),
    "experiment": _l("Try without the rule"),
}
RATIONALE_MAX = 5000
_CHOOSE_OUTCOME = _l("Choose keep, adapt, drop or try without the rule.")
EXPERIMENT_WEEKS_MAX = 26

# The new_* fields are the adapted rule's own: their limits are the rule's, and the rule's own
# cleaning checks them (decisions.record_decision).
DECISION_FIELDS = table(
    Field(
        "outcome",
        _l("Decision"),
        CHOICE,
        choices=OUTCOMES,
        required=True,
        missing=_CHOOSE_OUTCOME,
        invalid=_CHOOSE_OUTCOME,
    ),
    Field(
        "rationale",
        _l("Rationale"),
        LONG_TEXT,
        RATIONALE_MAX,
        required=True,
        missing=_l("Write down why: the team's reasons are part of the record."),
    ),
    # How the rule was stretched, for adapt only (docs/design.md, "Adapt strategies"): which
    # strategies exist and may be chosen, and that keep and drop name none, the domain checks
    # (decisions.record_decision); the form offers the organisation's list (strategies.options).
    Field(
        "strategy_id",
        _l("Adapt strategy"),
        REFERENCE,
        table="adapt_strategies",
        entity="adapt strategy",
        empty=_l("(choose how the rule was adapted)"),
        invalid=_l("No such adapt strategy."),
        hint=_l("How the rule was stretched. Only for adapt."),
    ),
    Field("new_title", _l("New title"), TEXT, RULE_TITLE_MAX),
    Field("new_description", _l("New text"), LONG_TEXT, TEXT_MAX),
    Field(
        "new_minutes_per_week",
        _l("New minutes per week"),
        INTEGER,
        maximum=MINUTES_MAX,
        invalid=_whole_number(MINUTES_MAX),
        too_large=_whole_number(MINUTES_MAX),
    ),
    # For "try without the rule" only (docs/design.md, "Experiments"): empty is 8 weeks and no
    # team is the session's teams; that they are the session's, experiments.clean_scope checks.
    Field(
        "experiment_weeks",
        _l("Weeks without the rule"),
        INTEGER,
        maximum=EXPERIMENT_WEEKS_MAX,
        invalid=_l("Choose from 1 to %(n)s weeks.", n=EXPERIMENT_WEEKS_MAX),
        too_large=_l("Choose from 1 to %(n)s weeks.", n=EXPERIMENT_WEEKS_MAX),
        hint=_l("Only for trying without the rule. Empty: 8 weeks."),
    ),
    Field(
        "experiment_team_ids",
        _l("Teams that try without the rule"),
        REFERENCES,
        table="teams",
        invalid=_l("No such team."),
    ),
)
