from datetime import date, timedelta

import pytest

from audit.core import clock
from audit.core.errors import Conflict, ValidationError
from audit.domain import categories, events, protocols, rules
from tests.conftest import make_rule, make_team, make_user


@pytest.fixture
def quality(db):
    return make_user(db, "ilse", "quality")


def _errors(db, **fields):
    with pytest.raises(ValidationError) as info:
        rules.create_rule(db, None, **fields)
    return info.value.errors


def test_create_with_every_field(db, quality):
    team = make_team(db, "Vlinder", location="Noord")
    category = categories.find_category(db, "Medicatie")
    protocol = protocols.save_protocol(db, None, name="Medicatieprotocol", version="3")
    rule = rules.create_rule(
        db,
        quality,
        code="MED-7",
        title="  Dubbele   controle ",
        description="Twee collega's kijken mee.\nAltijd.",
        category_id=category["id"],
        protocol_id=protocol["id"],
        team_ids=[team["id"]],
        location_ids=[team["location_id"]],
        owner="Ilse",
        minutes_per_week="120",
        relation_impact="neutral",
        values_touched="safety,autonomy",
        status="under_review",
        introduced_on="2019-03-12",
        review_due=date(2027, 1, 1),
        perceived_origin="law",
        verified_origin="professional_standard",
        source_reference="VMIK 2018",
        evidence_note="Richtlijn gelezen",
    )
    assert rule.code == "MED-7"
    assert rule.title == "Dubbele controle"
    assert rule.description == "Twee collega's kijken mee.\nAltijd."
    assert rule.category_nl == "Medicatie" and rule.protocol_name == "Medicatieprotocol"
    assert rule.team_names == ["Vlinder"] and rule.location_names == ["Noord"]
    assert not rule.org_wide
    assert rule.minutes_per_week == 120
    assert rule.values_touched == ["autonomy", "safety"]
    assert rule.introduced_on == date(2019, 3, 12)
    assert rule.verified_by == quality.id and rule.verified_on == clock.today()
    assert rule.verified_by_name == "ilse"
    assert not rule.self_invented and not rule.myth and rule.traced
    event = rules.history(db, rule.id)[0]
    assert event["action"] == "create" and event["actor_name"] == "ilse"
    assert event["changes"]["title"] == [None, "Dubbele controle"]
    assert event["changes"]["team_ids"] == [None, [team["id"]]]


def test_codes_are_generated(db):
    assert make_rule(db).code == "R-0001"
    assert make_rule(db).code == "R-0002"
    make_rule(db, code="R-0041")
    make_rule(db, code="R-12x")  # not a generated form: ignored when numbering
    assert make_rule(db).code == "R-0042"


def test_duplicate_code_is_refused_case_insensitively(db):
    make_rule(db, code="HYG-1")
    assert "code" in _errors(db, title="Andere", code="hyg-1")
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"code": "x" * 31}, "code"),
        ({"description": "x" * 5001}, "description"),
        ({"owner": "x" * 101}, "owner"),
        ({"source_reference": "x" * 201}, "source_reference"),
        ({"evidence_note": "x" * 5001}, "evidence_note"),
        ({"minutes_per_week": -1}, "minutes_per_week"),
        ({"minutes_per_week": "12.5"}, "minutes_per_week"),
        ({"minutes_per_week": 2.5}, "minutes_per_week"),
        ({"minutes_per_week": "ten"}, "minutes_per_week"),
        ({"minutes_per_week": 10**7}, "minutes_per_week"),
        ({"relation_impact": "great"}, "relation_impact"),
        ({"status": "gone"}, "status"),
        ({"status": ""}, "status"),
        ({"perceived_origin": "god"}, "perceived_origin"),
        ({"verified_origin": "LAW"}, "verified_origin"),
        ({"values_touched": ["safety", "happiness"]}, "values_touched"),
        ({"introduced_on": "12-03-2019x"}, "introduced_on"),
        ({"review_due": "2019-02-30"}, "review_due"),
        ({"category_id": 999}, "category_id"),
        ({"protocol_id": 999}, "protocol_id"),
        ({"team_ids": [999]}, "team_ids"),
        ({"location_ids": ["abc"]}, "location_ids"),
        ({"colour": "red"}, ""),
    ],
)
def test_every_field_is_validated(db, fields, field):
    errors = _errors(db, **{"title": "Een regel", **fields})
    assert field in errors
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 0
    assert events.count(db, "rule") == 0


def test_all_errors_are_reported_at_once(db):
    errors = _errors(db, title="", minutes_per_week=-5, status="x", review_due="soon")
    assert set(errors) == {"title", "minutes_per_week", "status", "review_due"}


@pytest.mark.parametrize(
    "minutes,stored", [(0, 0), ("0", 0), (" 45 ", 45), (30.0, 30), ("", None), (None, None)]
)
def test_minutes_accepted(db, minutes, stored):
    assert make_rule(db, minutes_per_week=minutes).minutes_per_week == stored


def test_update_records_old_and_new_values(db, quality):
    rule = make_rule(db, minutes_per_week=30, status="active")
    updated = rules.update_rule(
        db, quality, rule.id, expected_version=1, minutes_per_week=45, status="under_review"
    )
    assert updated.version == 2
    event = rules.history(db, rule.id)[0]
    assert event["action"] == "update"
    assert event["changes"] == {"minutes_per_week": [30, 45], "status": ["active", "under_review"]}


def test_an_update_without_changes_records_nothing(db):
    rule = make_rule(db, minutes_per_week=30)
    same = rules.update_rule(db, None, rule.id, minutes_per_week="30")
    assert same.version == 1
    assert len(rules.history(db, rule.id)) == 1


def test_stale_edit_is_refused(db):
    rule = make_rule(db)
    rules.update_rule(db, None, rule.id, expected_version=1, title="Eerste")
    with pytest.raises(Conflict):
        rules.update_rule(db, None, rule.id, expected_version=1, title="Tweede")
    assert rules.get_rule(db, rule.id).title == "Eerste"


def test_verification_is_stamped_and_cleared(db, quality):
    other = make_user(db, "anouk", "quality")
    rule = make_rule(db, perceived_origin="law")
    assert rule.verified_by is None and rule.verified_on is None
    traced = rules.trace(db, quality, rule.id, verified_origin="team", source_reference="Overleg")
    assert traced.verified_by == quality.id and traced.self_invented and traced.myth
    # An unrelated edit by someone else leaves who verified it alone.
    first_day = traced.verified_on
    clock.set(clock.now() + timedelta(days=3))
    later = clock.today()
    edited = rules.update_rule(db, other, rule.id, title="Nieuwe titel")
    assert edited.verified_by == quality.id and edited.verified_on == first_day
    changed = rules.trace(db, other, rule.id, verified_origin="law", source_reference="Wet")
    assert changed.verified_by == other.id and changed.verified_on == later
    assert not changed.myth
    cleared = rules.trace(db, other, rule.id, verified_origin=None)
    assert cleared.verified_by is None and cleared.verified_on is None and not cleared.traced
    history = rules.history(db, rule.id)
    assert history[0]["action"] == "trace"
    assert history[0]["changes"]["verified_origin"] == ["law", None]
    assert history[1]["changes"]["verified_origin"] == ["team", "law"]


def test_scope_change_is_recorded(db):
    vlinder, zon = make_team(db, "Vlinder"), make_team(db, "Zon")
    rule = make_rule(db, team_ids=[vlinder["id"]])
    updated = rules.update_rule(db, None, rule.id, team_ids=[zon["id"], vlinder["id"]])
    assert updated.team_ids == sorted([vlinder["id"], zon["id"]])
    assert rules.history(db, rule.id)[0]["changes"]["team_ids"] == [
        [vlinder["id"]],
        sorted([vlinder["id"], zon["id"]]),
    ]
    assert rules.update_rule(db, None, rule.id, team_ids=[]).org_wide


def test_archive_and_restore_keep_history(db, quality):
    rule = make_rule(db)
    archived = rules.archive_rule(db, quality, rule.id)
    assert archived.archived and archived.version == 2
    restored = rules.restore_rule(db, quality, rule.id)
    assert not restored.archived
    actions = [e["action"] for e in rules.history(db, rule.id)]
    assert actions == ["restore", "archive", "create"]


def test_get_rules_keeps_order(db):
    a, b, c = make_rule(db), make_rule(db), make_rule(db)
    assert [r.id for r in rules.get_rules(db, [c.id, a.id, b.id])] == [c.id, a.id, b.id]


def test_create_rules_in_bulk_matches_create_rule(db, quality):
    team = make_team(db, "Vlinder", location="Noord")
    fields = dict(
        title="Dubbele controle",
        description="Twee paar ogen",
        team_ids=[team["id"]],
        location_ids=[team["location_id"]],
        minutes_per_week=30,
        verified_origin="team",
        perceived_origin="law",
        values_touched=["safety"],
        introduced_on="2019-03-12",
    )
    single = rules.create_rule(db, quality, **fields)
    rules.create_rules(db, quality, [fields], action="create")
    bulk = rules.get_rules(db, [single.id + 1])[0]
    assert bulk.code == "R-0002"
    for name in rules.FIELDS + ("verified_by", "verified_on", "self_invented", "myth"):
        if name != "code":
            assert getattr(bulk, name) == getattr(single, name), name
    one, many = rules.history(db, single.id)[0], rules.history(db, bulk.id)[0]
    assert {k: v for k, v in many["changes"].items() if k != "code"} == {
        k: v for k, v in one["changes"].items() if k != "code"
    }
    assert many["actor_name"] == "ilse"


def test_create_rules_numbers_after_codes_in_use_and_given(db):
    make_rule(db, code="R-0007")
    count = rules.create_rules(
        db, None, [{"title": "a"}, {"title": "b", "code": "R-0020"}, {"title": "c"}]
    )
    assert count == 3
    codes = [r[0] for r in db.execute("SELECT code FROM rules ORDER BY id")]
    assert codes == ["R-0007", "R-0021", "R-0020", "R-0022"]


def test_create_rules_is_all_or_nothing(db):
    make_rule(db, code="TAKEN")
    with pytest.raises(ValidationError):
        rules.create_rules(db, None, [{"title": "a"}, {"title": "b", "code": "taken"}])
    with pytest.raises(ValidationError):
        rules.create_rules(db, None, [{"title": "a"}, {"title": ""}])
    with pytest.raises(ValidationError):
        rules.create_rules(db, None, [{"title": "a", "team_ids": [999]}])
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == 1
    assert events.count(db, "rule") == 1
