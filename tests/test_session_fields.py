"""The field tables of review sessions and decisions: the form, clean(), the stored columns,
the history and its labels all read them."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from flask_wtf import FlaskForm

from audit.core.errors import ValidationError
from audit.core.text import too_long
from audit.domain import decisions, events, fields, history, sessions, strategies
from audit.domain.fields import REFERENCES, TEXT, Field
from audit.domain.session_fields import DECISION_FIELDS, SESSION_FIELDS
from audit.views import sessions as session_views
from tests.conftest import make_rule, make_team, make_user


@pytest.fixture
def world(db):
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    make_user(db, "anna", "member", teams=[team])
    rule = make_rule(db, code="A", minutes_per_week=30)
    return {"team": team, "fac": fac, "rule": rule}


def _session(db, world, **fields):
    values = {"title": "Schrapsessie", "team_ids": [world["team"]["id"]]}
    values["rule_ids"] = [world["rule"].id]
    return sessions.create_session(db, world["fac"], **{**values, **fields})


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize(
    "table, form_class",
    [
        (SESSION_FIELDS, lambda: session_views.SessionForm),
        (DECISION_FIELDS, lambda: session_views.DecisionForm),
    ],
)
def test_form_and_history_say_the_words_of_the_table(app, lang, table, form_class):
    with app.test_request_context(), force_locale(lang):
        form = form_class()(meta={"csrf": False})
        for key, spec in table.items():
            assert str(form[key].label.text) == str(spec.label), key
            assert str(history.FIELD_LABELS[key]) == str(spec.label), key
        # Exactly the table's fields, besides the form's own bookkeeping.
        assert set(form._fields) - {"version", "seen"} == set(table)


def test_limits_and_required_messages_come_from_the_table(app):
    with app.test_request_context():
        form = session_views.SessionForm(
            meta={"csrf": False}, data={"title": "x" * (SESSION_FIELDS["title"].max_length + 1)}
        )
        form.validate()
        assert form.title.errors == [str(too_long(200, 201))]
        assert form.team_ids.errors == [str(SESSION_FIELDS["team_ids"].missing)]
        decision = session_views.DecisionForm(meta={"csrf": False}, data={"rationale": ""})
        decision.validate()
        assert decision.rationale.errors == [str(DECISION_FIELDS["rationale"].missing)]


def test_session_and_decision_forms_never_cut_pasted_text(app, login_as, db, world):
    # A maxlength attribute makes a browser drop what is pasted past it, without a word.
    client = login_as("quality")
    page = client.get("/sessions/new").get_data(as_text=True)
    assert 'name="title"' in page and "maxlength" not in page
    session = _session(db, world)
    sessions.open_session(db, world["fac"], session.id)
    sessions.close_session(db, world["fac"], session.id)
    admin = login_as("admin")
    detail = admin.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "rationale" in detail
    assert not re.search(r"<(input|textarea)[^>]*maxlength", detail)


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"title": " "}, "title", SESSION_FIELDS["title"].missing),
        ({"title": "x" * 201}, "title", too_long(200, 201)),
        ({"mode": "fax"}, "mode", "Unknown value fax."),
        ({"team_ids": ["x"]}, "team_ids", SESSION_FIELDS["team_ids"].invalid),
        ({"rule_ids": []}, "rule_ids", SESSION_FIELDS["rule_ids"].missing),
        ({"rule_ids": list(range(1, 102))}, "rule_ids", SESSION_FIELDS["rule_ids"].too_large),
        ({"opens_at": "tomorrow"}, "opens_at", "Enter a date and time."),
        ({"quorum": "-1"}, "quorum", "Enter a whole number from 0 to 1000000."),
    ],
)
def test_clean_gives_the_tables_messages(app, db, world, fields, field, message):
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        _session(db, world, **fields)
    assert [str(m) for m in refused.value.errors[field]] == [str(message)]


def test_stored_columns_and_the_history_follow_the_table(db, world):
    session = _session(db, world, mode="hands", anonymous=False, quorum="2")
    row = db.execute(
        "SELECT title, mode, anonymous, quorum FROM review_sessions WHERE id = ?", [session.id]
    ).fetchone()
    assert tuple(row) == ("Schrapsessie", "hands", 0, 2)
    created = events.history(db, "review_session", session.id)[0]
    assert set(created["changes"]) == set(SESSION_FIELDS)
    # A change records only what changed, measured against the session as it was.
    sessions.update_session(db, world["fac"], session.id, **_values(session, quorum=3))
    changed = events.history(db, "review_session", session.id)[0]
    assert changed["action"] == "update"
    assert changed["changes"] == {"quorum": [2, 3]}


def _values(session, **changes):
    return {**fields.current(SESSION_FIELDS, session), **changes}


def test_a_decisions_fields_are_cleaned_by_the_table(db, world):
    session = _session(db, world)
    sessions.open_session(db, world["fac"], session.id)
    sessions.close_session(db, world["fac"], session.id)
    with pytest.raises(ValidationError) as refused:
        decisions.record_decision(
            db, world["fac"], session.id, world["rule"].id, outcome="maybe", rationale=""
        )
    assert set(refused.value.errors) == {"outcome", "rationale"}
    # Adapting: the new text is cleaned as the rule's; keeping ignores it.
    kept = decisions.record_decision(
        db,
        world["fac"],
        session.id,
        world["rule"].id,
        outcome="keep",
        rationale="  Werkt goed  ",
        new_title="ongebruikt",
    )
    assert (kept["rationale"], kept["new_title"]) == ("Werkt goed", None)
    adapted = decisions.record_decision(
        db,
        world["fac"],
        session.id,
        world["rule"].id,
        outcome="adapt",
        rationale="Korter",
        new_minutes_per_week="10",
        strategy_id=strategies.by_key(db, "time")["id"],
    )
    assert (adapted["new_title"], adapted["new_minutes_per_week"]) == (None, 10)


def test_a_field_added_to_the_table_reaches_the_form_and_clean(app):
    # One line in a table is a field: the form shows it, clean() cleans it by its kind.
    extra = Field("venue", "Venue", TEXT, 20, required=True, missing="Where?")
    helpers = Field("helper_ids", "Helpers", REFERENCES, table="users")
    table = {**SESSION_FIELDS, "venue": extra, "helper_ids": helpers}
    form_class = session_views._form_class("WithVenue", FlaskForm, table)
    with app.test_request_context():
        form = form_class(meta={"csrf": False})
        assert str(form.venue.label.text) == "Venue"
        errors: dict = {}
        cleaned = fields.clean({"venue": extra}, {"venue": "  De   Tuin "}, errors)
        assert cleaned == {"venue": "De Tuin"} and errors == {}
        fields.clean({"venue": extra}, {"venue": ""}, errors)
        assert errors == {"venue": "Where?"}
    assert fields.labels(table)["venue"] == "Venue"
    # Ids are kept in a link table, not a column of the entity's own.
    assert "helper_ids" not in fields.stored(table, {**dict.fromkeys(table), "anonymous": 1})


def test_an_unknown_kind_is_refused_at_once():
    with pytest.raises(ValueError):
        Field("x", "X", "colour")


def test_rule_session_and_decision_fields_share_one_vocabulary(app):
    # One Field class and one set of kinds: a one-line text is cleaned the same way whichever
    # table it stands in; only the field's own messages and limits differ.
    tables = (fields.rule_spec().by_key, SESSION_FIELDS, DECISION_FIELDS)
    for spec in tables:
        for f in spec.values():
            assert isinstance(f, Field) and f.kind in fields.KINDS, f.key
    rule_title = fields.rule_field("title")
    session_title = SESSION_FIELDS["title"]
    assert rule_title.kind == session_title.kind == TEXT
    with app.test_request_context(), force_locale("en"):
        for f in (rule_title, session_title):
            errors: dict = {}
            assert fields.clean_value(f, "  Niet   alleen \n", errors) == "Niet alleen"
            fields.clean_value(f, " ", errors)
            assert str(errors[f.key]) == "Enter a title."
    minutes = fields.rule_field("minutes_per_week")
    new_minutes = DECISION_FIELDS["new_minutes_per_week"]
    assert minutes.kind == new_minutes.kind and minutes.maximum == new_minutes.maximum
