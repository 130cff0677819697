"""Reading the event log back: field and action names, and values as people read them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit.domain import actions, council, experiments, fields, session_fields, strategies
from audit.domain.vocabulary import CONCERN_KINDS

# The names of what events change besides a rule's fields, whose labels come from the field
# table (audit/domain/fields.py; ``field_labels`` joins the two).
FIELD_LABELS = {
    "archived_at": _l("Archived"),
    # users, teams, settings, protocols, categories
    "name": _l("Name"),
    "username": _l("User name"),
    "display_name": _l("Name"),
    "role": _l("Role"),
    "active": _l("Active"),
    "teams": _l("Teams"),
    "location_id": _l("Location"),
    "default_language": _l("Default language"),
    "reference_share": _l("Reference share"),
    "reference_label_nl": _l("Source of the reference, in Dutch"),
    "reference_label_en": _l("Source of the reference, in English"),
    "review_horizon_months": _l("Review horizon (months)"),
    "new_rules_proposed": _l("New rules start as proposed"),
    "version": _l("Version"),
    "url": _l("Link to the document"),
    "name_nl": _l("Name in Dutch"),
    "name_en": _l("Name in English"),
    # adapt strategies (audit/domain/strategies.py)
    "explanation_nl": _l("Explanation in Dutch"),
    "explanation_en": _l("Explanation in English"),
    "position": _l("Order"),
    # review sessions: their fields' labels come from session_fields (below)
    "results_shown": _l("Anonymous results out, closed for good"),
    "eligible": _l("Members who can vote"),
    "state": _l("State"),
    "present": _l("People present"),
    "counts": _l("Counts"),
    "rule_id": _l("Rule"),
    "choice": _l("Vote"),
    # reports of rules (audit/domain/rule_reports.py)
    "team_id": _l("Team"),
    "answer": _l("Answer"),
    "concern_kind": _l("Concern"),
}
# The session's and the decision's own fields, with the words of their forms. A key they
# share with the rule (title, team_ids) keeps the rule's label above.
FIELD_LABELS = {
    **fields.labels(session_fields.SESSION_FIELDS, session_fields.DECISION_FIELDS),
    **FIELD_LABELS,
}
# Follow-up actions (audit/domain/actions.py), whose events are on their rule.
FIELD_LABELS.update(fields.labels(actions.ACTION_FIELDS, actions.DONE_FIELDS))
# The client council's advice and its settings (audit/domain/council.py).
FIELD_LABELS.update(council.FIELD_LABELS)
# Experiments (audit/domain/experiments.py), whose start, extension and close are on their rule.
FIELD_LABELS.update(experiments.FIELD_LABELS)

ENTITY_LABELS = {
    "rule": _l("Rule"),
    "user": _l("User"),
    "team": _l("Team"),
    "location": _l("Location"),
    "organisation": _l("Organisation"),
    "category": _l("Category"),
    "protocol": _l("Protocol"),
    "review_session": _l("Review session"),
    "rule_report": _l("Report of a rule"),
    strategies.ENTITY: _l("Adapt strategy"),
    "experiment": _l("Experiment"),
}


def field_labels() -> dict[str, Any]:
    """Every field name an event may hold -> its lazy label; a rule's from the field table."""
    return {**FIELD_LABELS, **fields.rule_spec().labels}


def field_label(name: str) -> str:
    labels = field_labels()
    return str(labels[name]) if name in labels else name


ACTION_LABELS = {
    "create": _l("created"),
    "update": _l("changed"),
    "trace": _l("traced"),
    "archive": _l("archived"),
    "restore": _l("restored"),
    "import": _l("imported"),
    "decision": _l("decision applied"),
    "bulk": _l("changed with others"),
    "password": _l("password changed"),
    "locked": _l("locked after failed logins"),
    "open": _l("opened"),
    "close": _l("closed"),
    "reopen": _l("reopened"),
    "ballot": _l("vote cast"),
    "hands": _l("hands counted"),
    "apply": _l("decision applied"),
    "report": _l("reported"),
    "withdraw": _l("withdrawn"),
    "accepted": _l("accepted as a new rule"),
    "attached": _l("added to a rule"),
    "declined": _l("declined"),
    "concern": _l("concern entered"),
    "concern_removed": _l("concern removed"),
    "concern_answer": _l("concern answered"),
    **actions.EVENT_ACTIONS,
    **council.EVENT_ACTIONS,
    **experiments.EVENT_ACTIONS,
}


def label_of(mapping: dict, key: Any) -> str:
    """The label of a key in one of the fixed lists, or empty."""
    return str(mapping[key]) if key in mapping else ""


def translated(mapping: dict[str, Any]) -> dict[str, str]:
    """A keyed list with its labels rendered once, in the current language: a lazy label costs
    a translation lookup every time it is shown, which adds up over 20,000 events."""
    return {key: str(label) for key, label in mapping.items()}


class HistoryLookup:
    """Names for the ids an event stores, and labels, loaded once per page or export."""

    def __init__(self, db: Database) -> None:
        locale_column = "name_en" if str(get_locale() or "nl") == "en" else "name_nl"
        # Names of the rows a reference field points at, per table; labels of the keys a
        # choice field holds, per field: both read from the field table.
        names_sql = {
            "categories": f"SELECT id, {locale_column} FROM categories",
            "protocols": "SELECT id, name FROM protocols",
            "teams": "SELECT id, name FROM teams",
            "locations": "SELECT id, name FROM locations",
            "users": "SELECT id, coalesce(nullif(display_name, ''), username) FROM users",
            "review_sessions": "SELECT id, title FROM review_sessions",
        }
        # The rule's fields, and the action's, whose events are on the rule too.
        spec = [
            *fields.rule_spec().table,
            *actions.ACTION_FIELDS.values(),
            *actions.DONE_FIELDS.values(),
        ]
        tables = {f.table for f in spec if f.table}
        by_table = {table: dict(db.execute(names_sql[table])) for table in tables}
        self.kinds = {f.key: f.kind for f in spec}
        self.names = {f.key: by_table[f.table] for f in spec if f.table}
        # A decision's adapt strategy, on the decision's and the applied rule's events.
        self.names["strategy_id"] = strategies.names(db)
        self.labels = {f.key: translated(f.choices) for f in spec if f.choices}
        self.labels["concern_kind"] = translated(CONCERN_KINDS)
        self.labels["council_advice"] = translated(council.SETTING_LABELS)
        self.kinds["advised_on"] = fields.DATE  # the council's advice, shown as a date
        # An experiment's teams and the outcome that closed it, on the rule's events.
        team_names = by_table.get("teams") or dict(db.execute(names_sql["teams"]))
        for key in ("experiment_teams", "experiment_team_ids"):  # the rule's and the decision's
            self.kinds[key] = fields.REFERENCES
            self.names[key] = team_names
        self.labels["experiment_outcome"] = translated(session_fields.OUTCOMES)
        self.fields = translated(field_labels())

    def value(self, field: str, value: Any) -> str:
        if value in (None, "", []):
            return "–"
        if isinstance(value, bool):  # "Anonymous ballots: – → yes", in the page's language
            return str(_l("yes") if value else _l("no"))
        kind = self.kinds.get(field)
        if kind == fields.REFERENCES:
            return ", ".join(str(self.names[field].get(v, v)) for v in value)
        if field in self.names:
            return str(self.names[field].get(value, value))
        if kind == fields.CHOICES:
            return ", ".join(self.labels[field].get(v, v) for v in value)
        if field in self.labels:
            return self.labels[field].get(value, str(value))
        if kind == fields.DATE:
            try:
                return format_date(value if isinstance(value, date) else date.fromisoformat(value))
            except (TypeError, ValueError):
                return str(value)
        if field == "archived_at":
            return format_datetime(datetime.fromisoformat(value))
        return str(value)

    def field(self, name: str) -> str:
        return self.fields.get(name, name)

    def describe(self, changes: dict[str, list]) -> str:
        """All changes of one event on one line: "Field: old → new; ..."."""
        return "; ".join(
            f"{self.field(name)}: {self.value(name, old)} → {self.value(name, new)}"
            for name, (old, new) in changes.items()
        )
