"""How domain values read on a page: labels in the reader's language, history entries."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context

from audit.domain import ballots, decisions, experiments, origins, sessions
from audit.domain.history import ACTION_LABELS, field_label, label_of
from audit.domain.vocabulary import CONCERN_KINDS, IMPACTS, STATUSES, VALUES


def category_name(row: Any) -> str:
    """A row or Rule with category_nl / category_en, named in the reader's language."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k, None)
    if str(get_locale() or "nl") == "en":
        return get("category_en") or ""
    return get("category_nl") or ""


@pass_context
def _field_label(context: Any, name: str) -> str:
    """``field_label`` for templates. Taking the context keeps Jinja from working out
    ``"status"|field_label`` once, when it compiles the template, in whatever language the
    first page was in: a filter of a constant is folded unless it takes the context."""
    return field_label(name)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["field_label"] = _field_label
    app.jinja_env.globals.update(
        ORIGINS=origins.ORIGINS,
        STATUSES=STATUSES,
        IMPACTS=IMPACTS,
        VALUES=VALUES,
        ACTION_LABELS=ACTION_LABELS,
        origin_label=origins.label,
        origin_group=lambda key: label_of(origins.GROUPS, origins.GROUP_OF.get(key)),
        status_label=lambda key: label_of(STATUSES, key),
        impact_label=lambda key: label_of(IMPACTS, key),
        value_label=lambda key: label_of(VALUES, key),
        category_name=category_name,
        STATES_LABELS=sessions.STATES,
        decision_token=decisions.version_token,
        # Below this many reports behind a rule, their minutes summed are one colleague's
        # words: shown only to those who triage (docs/security.md, "Anonymous reports").
        report_minimum=sessions.min_voters,
        MODES_LABELS=sessions.MODES,
        CHOICE_LABELS=ballots.CHOICES,
        CONCERN_LABELS=CONCERN_KINDS,
        OUTCOME_LABELS=decisions.OUTCOMES,
        EXPERIMENT_STATES=experiments.STATES,
        EFFECT_LABELS=experiments.EFFECTS,
        SUGGESTED_LABELS={**decisions.OUTCOMES, "discuss": _l("Discuss")},
        mandatory_note=ballots.mandatory_message,
    )
