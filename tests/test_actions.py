"""Follow-up actions on decisions: every state change, who may make it, stale edits, the event
on the rule, and where actions show (rule page, results page, My actions, start page,
dashboard, report, demo)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import openpyxl
import pytest

from audit import demo
from audit.core import clock
from audit.core.errors import Conflict, NotFound, ValidationError
from audit.domain import actions, decisions, events, figures, rules, sessions, users
from audit.domain.register import RuleFilter
from audit.xlsx import export as xlsx_export
from tests.conftest import Auth, make_rule, make_team, make_user, post

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(app, db):
    """A closed session of team Vlinder with a keep decision on rule A, recorded on 2 March.
    Everybody reads English (the organisation's default is Dutch)."""
    clock.set(START)
    vlinder = make_team(db, "Vlinder")
    zon = make_team(db, "Zon")
    people = {
        "fac": make_user(db, "fac", "quality", display_name="Fien Facilitator", language="en"),
        "other_qm": make_user(db, "qm2", "quality", language="en"),
        "boss": make_user(db, "boss", "admin", language="en"),
        "anna": make_user(
            db, "anna", "member", teams=[vlinder], display_name="Anna de Wit", language="en"
        ),
        "bert": make_user(
            db, "bert", "member", teams=[vlinder], display_name="Bert Bos", language="en"
        ),
        "zoe": make_user(db, "zoe", "member", teams=[zon], language="en"),
        "vera": make_user(db, "vera", "viewer", language="en"),
    }
    rule = make_rule(db, code="A", title="Taart", team_ids=[vlinder["id"]], minutes_per_week=60)
    other = make_rule(db, code="B", title="Bezoek", team_ids=[zon["id"]])
    session = sessions.create_session(
        db,
        people["fac"],
        title="Voorjaar",
        team_ids=[vlinder["id"]],
        rule_ids=[rule.id],
        mode="hands",
    )
    sessions.open_session(db, people["fac"], session.id)
    sessions.close_session(db, people["fac"], session.id)
    decisions.record_decision(
        db, people["fac"], session.id, rule.id, outcome="keep", rationale="Het team wil het."
    )
    return {
        **people,
        "rule": rule,
        "other": other,
        "session": session,
        "vlinder": vlinder,
        "zon": zon,
    }


def _add(db, world, actor=None, **given):
    given = {
        "what": "Familie informeren",
        "owner_id": world["anna"].id,
        "due_on": START.date() + timedelta(days=14),
        **given,
    }
    return actions.create_action(
        db, actor or world["fac"], world["session"].id, world["rule"].id, **given
    )


def _rule_events(db, rule_id, kind):
    return [e for e in rules.history(db, rule_id) if e["action"] == kind]


# --- the domain: each state change ----------------------------------------------------------


def test_create_stores_the_action_and_records_it_on_the_rule(db, world):
    action = _add(db, world, note="Via de nieuwsbrief")
    assert (action.what, action.owner_name, action.due_on) == (
        "Familie informeren",
        "Anna de Wit",
        date(2026, 3, 16),
    )
    assert action.note == "Via de nieuwsbrief" and not action.done and action.version == 1
    (event,) = _rule_events(db, world["rule"].id, "action_add")
    assert event["entity"] == "rule" and (event["ref_entity"], event["ref_id"]) == (
        "action",
        action.id,
    )
    assert event["note"] == "Familie informeren"
    assert event["changes"]["owner_id"] == [None, world["anna"].id]
    assert event["changes"]["due_on"] == [None, "2026-03-16"]


@pytest.mark.parametrize(
    "given,field",
    [
        ({"what": "  "}, "what"),
        ({"what": "x" * 301}, "what"),
        ({"owner_id": None}, "owner_id"),
        ({"due_on": None}, "due_on"),
        ({"due_on": "morgen"}, "due_on"),
        ({"due_on": date(2026, 3, 1)}, "due_on"),  # before the decision
        ({"due_on": date(2028, 3, 3)}, "due_on"),  # more than two years ahead
        ({"note": "n" * 1001}, "note"),
    ],
)
def test_bad_input_is_refused_at_its_field_and_nothing_is_stored(db, world, given, field):
    with pytest.raises(ValidationError) as refused:
        _add(db, world, **given)
    assert field in refused.value.errors
    assert db.execute("SELECT count(*) FROM actions").fetchone()[0] == 0
    assert _rule_events(db, world["rule"].id, "action_add") == []


def test_the_owner_is_an_active_user_who_can_act(db, world):
    for owner in (world["vera"].id, 9999):  # a viewer reads only; an unknown id
        with pytest.raises(ValidationError) as refused:
            _add(db, world, owner_id=owner)
        assert "owner_id" in refused.value.errors
    users.update_user(db, None, world["bert"].id, role="member", active=False)
    with pytest.raises(ValidationError):
        _add(db, world, owner_id=world["bert"].id)
    assert _add(db, world, owner_id=world["boss"].id).owner_id == world["boss"].id


def test_only_the_facilitator_or_an_admin_adds_changes_and_deletes(db, world):
    with pytest.raises(Conflict):
        _add(db, world, actor=world["other_qm"])
    action = _add(db, world, actor=world["boss"])
    with pytest.raises(Conflict):
        actions.update_action(
            db,
            world["other_qm"],
            action.id,
            expected_version=1,
            what="Anders",
            owner_id=world["anna"].id,
            due_on=action.due_on,
        )
    with pytest.raises(Conflict):
        actions.delete_action(db, world["anna"], action.id, expected_version=1)
    assert actions.get_action(db, action.id).what == "Familie informeren"


def test_an_action_needs_a_decision(db, world):
    with pytest.raises(NotFound):
        actions.create_action(
            db,
            world["fac"],
            world["session"].id,
            world["other"].id,
            what="x",
            owner_id=world["anna"].id,
            due_on=date(2026, 4, 1),
        )


def test_edit_changes_the_fields_and_refuses_a_stale_form(db, world):
    action = _add(db, world)
    changed = actions.update_action(
        db,
        world["fac"],
        action.id,
        expected_version=1,
        what="Familie bellen",
        owner_id=world["bert"].id,
        due_on=date(2026, 4, 1),
        note="",
    )
    assert (changed.what, changed.owner_id, changed.version) == (
        "Familie bellen",
        world["bert"].id,
        2,
    )
    (event,) = _rule_events(db, world["rule"].id, "action_update")
    assert event["changes"] == {
        "what": ["Familie informeren", "Familie bellen"],
        "owner_id": [world["anna"].id, world["bert"].id],
        "due_on": ["2026-03-16", "2026-04-01"],
    }
    for version in (1, None):  # the form loaded before the change, or one that lost its version
        with pytest.raises(Conflict):
            actions.update_action(
                db,
                world["fac"],
                action.id,
                expected_version=version,
                what="Oud",
                owner_id=world["anna"].id,
                due_on=date(2026, 4, 1),
            )
    assert actions.get_action(db, action.id).what == "Familie bellen"


def test_a_due_day_that_has_passed_is_kept_on_an_edit_but_not_typed_anew(db, world):
    action = _add(db, world, due_on=date(2026, 3, 3))
    clock.set(datetime(2026, 6, 1, 9, tzinfo=UTC))
    kept = actions.update_action(
        db,
        world["fac"],
        action.id,
        expected_version=1,
        what="Familie informeren per brief",
        owner_id=world["anna"].id,
        due_on=date(2026, 3, 3),
    )
    assert kept.due_on == date(2026, 3, 3) and kept.overdue


def test_the_owner_marks_done_with_a_note_and_undoes_it(db, world):
    action = _add(db, world)
    clock.set(datetime(2026, 3, 10, 15, tzinfo=UTC))
    done = actions.mark_done(
        db, world["anna"], action.id, expected_version=1, note="Brief is verstuurd."
    )
    assert (done.done_on, done.done_by_name, done.done_note) == (
        date(2026, 3, 10),
        "Anna de Wit",
        "Brief is verstuurd.",
    )
    (event,) = _rule_events(db, world["rule"].id, "action_done")
    assert event["changes"] == {
        "done_on": [None, "2026-03-10"],
        "done_by": [None, world["anna"].id],
        "done_note": ["", "Brief is verstuurd."],
    }
    with pytest.raises(Conflict):  # twice
        actions.mark_done(db, world["anna"], action.id, expected_version=2)
    reopened = actions.reopen_action(db, world["anna"], action.id, expected_version=2)
    assert not reopened.done and reopened.done_note == "" and reopened.version == 3
    (event,) = _rule_events(db, world["rule"].id, "action_reopen")
    assert event["changes"]["done_on"] == ["2026-03-10", None]
    with pytest.raises(Conflict):  # open already
        actions.reopen_action(db, world["anna"], action.id, expected_version=3)


def test_the_facilitator_may_mark_done_but_another_member_may_not_see_it(db, world):
    action = _add(db, world)
    for stranger in (world["bert"], world["zoe"], world["other_qm"], world["vera"]):
        with pytest.raises(NotFound):
            actions.mark_done(db, stranger, action.id, expected_version=1)
    assert not actions.get_action(db, action.id).done
    assert (
        actions.mark_done(db, world["fac"], action.id, expected_version=1).done_by
        == world["fac"].id
    )


def test_a_stale_done_is_refused(db, world):
    action = _add(db, world)
    actions.update_action(
        db,
        world["fac"],
        action.id,
        expected_version=1,
        what="Nieuw",
        owner_id=world["anna"].id,
        due_on=action.due_on,
    )
    with pytest.raises(Conflict):
        actions.mark_done(db, world["anna"], action.id, expected_version=1)
    assert not actions.get_action(db, action.id).done


def test_a_stale_reopen_or_delete_is_refused(db, world):
    done = _add(db, world, what="Gedaan")
    actions.mark_done(db, world["anna"], done.id, expected_version=1)
    with pytest.raises(Conflict):  # the page still showed it open (version 1)
        actions.reopen_action(db, world["anna"], done.id, expected_version=1)
    assert actions.get_action(db, done.id).done
    changed = _add(db, world, what="Eerst")
    actions.update_action(
        db,
        world["fac"],
        changed.id,
        expected_version=1,
        what="Daarna",
        owner_id=world["anna"].id,
        due_on=changed.due_on,
    )
    with pytest.raises(Conflict):  # deleting what was shown before the change
        actions.delete_action(db, world["fac"], changed.id, expected_version=1)
    assert actions.get_action(db, changed.id).what == "Daarna"


def test_delete_only_while_not_done_and_the_event_keeps_what_it_said(db, world):
    done = _add(db, world, what="Gedaan")
    actions.mark_done(db, world["anna"], done.id, expected_version=1)
    with pytest.raises(Conflict):
        actions.delete_action(db, world["fac"], done.id, expected_version=2)
    gone = _add(db, world, what="Per ongeluk")
    actions.delete_action(db, world["fac"], gone.id, expected_version=1)
    with pytest.raises(NotFound):
        actions.get_action(db, gone.id)
    (event,) = _rule_events(db, world["rule"].id, "action_delete")
    assert event["changes"]["what"] == ["Per ongeluk", None]
    assert event["changes"]["owner_id"] == [world["anna"].id, None]


def test_every_change_is_one_transaction(db, world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(events, "record", broken)
    with pytest.raises(RuntimeError):
        _add(db, world)
    assert db.execute("SELECT count(*) FROM actions").fetchone()[0] == 0


def test_a_decision_is_applied_before_its_actions_are_done(db, world):
    _add(db, world)
    rule = decisions.apply_decision(db, world["fac"], world["session"].id, world["rule"].id)
    assert rule.status == "active"
    assert [a.what for a in actions.open_for_rule(db, world["rule"].id)] == ["Familie informeren"]
    # ... and actions may still be added after it was applied.
    assert _add(db, world, what="Protocol aanpassen").what == "Protocol aanpassen"


def test_overdue_follows_the_clock_and_the_figures_count_in_scope(db, world):
    action = _add(db, world, due_on=date(2026, 3, 10))
    _add(db, world, what="Later", due_on=date(2026, 5, 1))
    assert figures.follow_up(db)["overdue"] == 0 and not action.overdue
    clock.set(datetime(2026, 3, 11, 9, tzinfo=UTC))
    assert actions.get_action(db, action.id).overdue
    counted = figures.follow_up(db)
    assert (counted["open"], counted["overdue"]) == (2, 1)
    assert [a["what"] for a in counted["overdue_actions"]] == ["Familie informeren"]
    zon = figures.follow_up(db, figures.Scope(team=world["zon"]["id"]))
    assert (zon["open"], zon["overdue"]) == (0, 0)
    actions.mark_done(db, world["anna"], action.id, expected_version=1)
    assert figures.follow_up(db)["overdue"] == 0
    rules.archive_rule(db, world["fac"], world["rule"].id)
    assert figures.follow_up(db)["open"] == 0  # an archived rule leaves the figures


def test_my_actions_lists_open_first_by_due_day_then_done(db, world):
    late = _add(db, world, what="Later", due_on=date(2026, 5, 1))
    soon = _add(db, world, what="Eerst", due_on=date(2026, 3, 5))
    done = _add(db, world, what="Klaar", due_on=date(2026, 3, 4))
    _add(db, world, what="Van Bert", owner_id=world["bert"].id)
    actions.mark_done(db, world["anna"], done.id, expected_version=1)
    assert [a.id for a in actions.mine(db, world["anna"])] == [soon.id, late.id, done.id]
    assert actions.owns_open(db, world["anna"]) and not actions.owns_open(db, world["zoe"])


# --- pages ----------------------------------------------------------------------------------


def _login(app, username):
    client = app.test_client()
    assert Auth(client).login(username).status_code == 302
    return client


def test_my_actions_page_flags_overdue_and_the_done_button_works(app, db, world):
    action = _add(db, world, due_on=date(2026, 3, 3))
    _add(db, world, what="Volgende maand", due_on=date(2026, 4, 2))
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    client = _login(app, "anna")
    html = client.get("/actions/mine").get_data(as_text=True)
    assert html.index("Familie informeren") < html.index("Volgende maand")
    card = html[html.index(f'id="action-{action.id}"') :][:600]
    assert "is-overdue" in html[html.index(f'id="action-{action.id}"') - 80 :][:200]
    assert re.search(r'class="badge overdue"', card)
    response = post(
        client,
        f"/actions/{action.id}/done",
        {"version": "1", "back": "mine", "note": "Gebeld"},
        token_from="/actions/mine",
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/actions/mine")
    stored = actions.get_action(db, action.id)
    assert stored.done_on == date(2026, 3, 20) and stored.done_note == "Gebeld"
    html = client.get("/actions/mine").get_data(as_text=True)
    assert "Gebeld" in html and "Not done after all" in html


def test_a_member_cannot_mark_someone_elses_action_or_open_it_by_id(app, db, world):
    action = _add(db, world)  # Anna's
    client = _login(app, "bert")
    for url in (
        f"/actions/{action.id}/done",
        f"/actions/{action.id}/reopen",
        "/actions/99999/done",
    ):
        response = post(client, url, {"version": "1"}, token_from="/actions/mine")
        assert response.status_code == 404, url
    assert not actions.get_action(db, action.id).done
    assert "Familie informeren" not in client.get("/actions/mine").get_data(as_text=True)
    for url in (f"/actions/{action.id}/edit", "/actions"):
        assert client.get(url).status_code == 403


def test_viewers_read_only(app, db, world):
    action = _add(db, world)
    client = _login(app, "vera")
    assert client.get("/actions").status_code == 200
    assert "Familie informeren" in client.get("/actions").get_data(as_text=True)
    assert client.get("/actions/mine").status_code == 403
    response = post(client, f"/actions/{action.id}/done", {"version": "1"}, token_from="/")
    assert response.status_code == 403
    html = client.get(f"/sessions/{world['session'].id}").get_data(as_text=True)
    assert "Familie informeren" in html and "Add an action" not in html
    assert not actions.get_action(db, action.id).done


def test_the_menu_item_shows_for_an_owner_of_an_open_action(app, db, world):
    action = _add(db, world)
    anna, bert = _login(app, "anna"), _login(app, "bert")
    assert 'href="/actions/mine"' in anna.get("/").get_data(as_text=True)
    assert 'href="/actions/mine"' not in bert.get("/").get_data(as_text=True)
    empty = bert.get("/actions/mine")
    assert empty.status_code == 200 and 'id="no-actions"' in empty.get_data(as_text=True)
    actions.mark_done(db, world["anna"], action.id, expected_version=1)
    assert 'href="/actions/mine"' not in anna.get("/").get_data(as_text=True)


def test_the_facilitator_adds_and_edits_on_the_results_page(app, db, world):
    session_id, rule_id = world["session"].id, world["rule"].id
    client = _login(app, "fac")
    page = f"/sessions/{session_id}"
    html = client.get(page).get_data(as_text=True)
    assert "Add an action" in html and f'id="a{rule_id}-what"' in html
    response = post(
        client,
        f"/sessions/{session_id}/rules/{rule_id}/actions",
        {
            f"a{rule_id}-what": "Protocol aanpassen",
            f"a{rule_id}-owner_id": str(world["bert"].id),
            f"a{rule_id}-due_on": "2026-04-01",
        },
        token_from=page,
    )
    assert response.status_code == 302
    (action,) = actions.for_session(db, session_id)[rule_id]
    assert (action.what, action.owner_id) == ("Protocol aanpassen", world["bert"].id)
    html = client.get(page).get_data(as_text=True)
    assert "Protocol aanpassen" in html and f"/actions/{action.id}/edit" in html
    edit = f"/actions/{action.id}/edit"
    response = post(
        client,
        edit,
        {
            "what": "Protocol herschrijven",
            "owner_id": str(world["bert"].id),
            "due_on": "2026-04-02",
            "version": "1",
        },
        token_from=edit,
    )
    assert response.status_code == 302
    assert actions.get_action(db, action.id).what == "Protocol herschrijven"
    # The page loaded before that change is refused, with a message, and changes nothing.
    response = post(
        client,
        edit,
        {"what": "Oud", "owner_id": str(world["bert"].id), "due_on": "2026-04-02", "version": "1"},
        token_from=edit,
    )
    assert response.status_code == 200 and "in the meantime" in response.get_data(as_text=True)
    assert actions.get_action(db, action.id).what == "Protocol herschrijven"


def test_a_refused_add_keeps_what_was_typed_with_the_message(app, db, world):
    session_id, rule_id = world["session"].id, world["rule"].id
    client = _login(app, "fac")
    response = post(
        client,
        f"/sessions/{session_id}/rules/{rule_id}/actions",
        {f"a{rule_id}-what": "Familie bellen", f"a{rule_id}-owner_id": ""},
        token_from=f"/sessions/{session_id}",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="Familie bellen"' in html and "Choose who does it." in html
    assert db.execute("SELECT count(*) FROM actions").fetchone()[0] == 0


def test_another_quality_manager_cannot_add_or_edit(app, db, world):
    action = _add(db, world)
    client = _login(app, "qm2")
    session_id, rule_id = world["session"].id, world["rule"].id
    html = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "Add an action" not in html and "Familie informeren" in html
    response = post(
        client,
        f"/sessions/{session_id}/rules/{rule_id}/actions",
        {
            f"a{rule_id}-what": "x",
            f"a{rule_id}-owner_id": str(world["anna"].id),
            f"a{rule_id}-due_on": "2026-04-01",
        },
        token_from=f"/sessions/{session_id}",
    )
    assert response.status_code == 400 and "Only the facilitator" in response.get_data(as_text=True)
    response = client.get(f"/actions/{action.id}/edit")
    assert response.status_code == 302
    assert db.execute("SELECT count(*) FROM actions").fetchone()[0] == 1


def test_delete_asks_for_a_ticked_box(app, db, world):
    action = _add(db, world)
    client = _login(app, "fac")
    edit = f"/actions/{action.id}/edit"
    post(client, f"/actions/{action.id}/delete", {"version": "1"}, token_from=edit)
    assert actions.get_action(db, action.id)
    response = post(
        client, f"/actions/{action.id}/delete", {"version": "1", "confirm": "y"}, token_from=edit
    )
    assert response.status_code == 302
    with pytest.raises(NotFound):
        actions.get_action(db, action.id)


def test_the_rule_page_shows_open_actions_and_its_history_the_changes(app, db, world):
    action = _add(db, world, due_on=date(2026, 3, 3))
    _add(db, world, what="Afgerond")
    actions.mark_done(db, world["anna"], actions.mine(db, world["anna"])[1].id, expected_version=1)
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    client = _login(app, "zoe")  # a member of another team reads the register too
    html = client.get(f"/rules/{world['rule'].id}").get_data(as_text=True)
    start = html.index('id="open-actions"')
    section = html[start : html.index("</ul>", start)]
    assert "Familie informeren" in section and "Anna de Wit" in section
    assert "badge overdue" in section and "Afgerond" not in section
    history = html[html.index('id="history-heading"') :]
    assert "follow-up action added" in history and "follow-up action done" in history
    assert action.what in history


def test_the_start_page_and_dashboard_show_overdue_actions(app, db, world):
    _add(db, world, due_on=date(2026, 3, 3))
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    quality = _login(app, "fac")
    html = quality.get("/").get_data(as_text=True)
    assert 'id="overdue-actions"' in html and "Familie informeren" in html
    dashboard = quality.get("/dashboard").get_data(as_text=True)
    overdue = dashboard[dashboard.index('id="fig-actions-overdue"') :][:300]
    assert '<p class="figure-value">1</p>' in overdue
    assert "Familie informeren" in dashboard
    member = _login(app, "anna")
    html = member.get("/").get_data(as_text=True)
    assert 'id="overdue-actions"' not in html and 'id="my-actions-heading"' in html
    assert "1 overdue" in html


def test_the_report_has_an_actions_sheet(app, db, world):
    hostile = '=HYPERLINK("http://x","klik")'
    _add(db, world, what=hostile, due_on=date(2026, 3, 3))
    clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(db, out, lang="nl")
    wb = openpyxl.load_workbook(BytesIO(out.getvalue()))
    ws = wb.worksheets[-1]
    assert ws.title == "Acties"
    header = [c.value for c in ws[1]]
    assert header[:9] == [
        "Wat er moet gebeuren",
        "Code",
        "Regel",
        "Sessie",
        "Eigenaar",
        "Uiterlijk",
        "Gedaan op",
        "Gedaan door",
        "Te laat",
    ]
    row = [c.value for c in ws[2]]
    assert row[0] == hostile and ws["A2"].data_type == "s"  # text, never a formula
    assert row[1:5] == ["A", "Taart", "Voorjaar", "Anna de Wit"]
    assert row[5] == datetime(2026, 3, 3) and row[8] == "ja"
    assert ws.print_title_rows == "$1:$1" and ws.page_setup.paperSize == 9
    # Filtered to another team, the sheet holds none of Vlinder's actions.
    out = BytesIO()
    with app.app_context():
        xlsx_export.export_report(
            db, out, lang="en", rule_filter=RuleFilter(team=world["zon"]["id"])
        )
    ws = openpyxl.load_workbook(BytesIO(out.getvalue())).worksheets[-1]
    assert ws.title == "Actions" and ws.max_row == 1


def test_the_demo_has_open_overdue_and_done_actions_of_several_owners(app, db):
    with app.app_context():
        demo.seed(db, "test")
    every = actions.listing(db, "all", limit=None)
    owners = {users.get_user(db, a.owner_id).role for a in every}
    assert "member" in owners and len({a.owner_id for a in every}) >= 3
    assert any(a.done for a in every)
    assert any(a.overdue for a in every)
    assert any(not a.done and not a.overdue for a in every)
    member_overdue = [a for a in every if a.overdue and a.owner_name == "Anouk Visser"]
    assert member_overdue


def test_the_demos_actions_sheet_prints_on_one_landscape_page(app, db, tmp_path):
    """Through LibreOffice: the Actions sheet alone, from the demo, on one A4 page in Dutch,
    with the overdue ones marked."""
    from tests.test_xlsx_export import _soffice
    from tests.test_xlsx_print import _only_sheet, _pdf_pages, _pdf_text

    with app.app_context():
        demo.seed(db, "test")
        out = BytesIO()
        xlsx_export.export_report(db, out, lang="nl")
    data = out.getvalue()
    keep = len(openpyxl.load_workbook(BytesIO(data)).sheetnames) - 1
    assert _pdf_pages(_soffice(), _only_sheet(data, keep), tmp_path) == 1
    text = _pdf_text(tmp_path / "report.pdf")
    assert "Familie informeren over het nieuwe ochtendritme" in text
    assert "Wat er moet gebeuren" in text and re.search(r"\bja\b", text)


def test_the_history_names_the_owner_the_session_and_the_days(app, db, world):
    _add(db, world)
    client = _login(app, "fac")
    html = client.get(f"/rules/{world['rule'].id}").get_data(as_text=True)
    history = html[html.index('id="history-heading"') :]
    assert "Anna de Wit" in history and "Voorjaar" in history
    assert "Mar 16, 2026" in history  # the due day as a date in the reader's language
