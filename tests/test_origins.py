"""Self-invented and myth for every combination of perceived and verified origin, in Python and
in the database's generated columns alike."""

import itertools

import pytest

from audit.domain import origins
from tests.conftest import make_rule

KEYS = [None, *origins.ORIGINS]

EXPECTED_SELF = {"interpretation", "organisation", "team"}
EXPECTED_EXTERNAL = {"law", "inspectorate", "financier", "professional_standard", "certification"}


def test_groups_follow_the_design():
    assert origins.SELF_INVENTED == EXPECTED_SELF
    assert origins.EXTERNAL == EXPECTED_EXTERNAL
    assert {"law", "inspectorate", "financier"} == origins.MANDATORY
    assert len(origins.ORIGINS) == 9


@pytest.mark.parametrize("perceived,verified", list(itertools.product(KEYS, KEYS)))
def test_flags_for_every_combination(perceived, verified):
    assert origins.is_self_invented(verified) == (verified in EXPECTED_SELF)
    assert origins.is_myth(perceived, verified) == (
        perceived in EXPECTED_EXTERNAL and verified in EXPECTED_SELF
    )
    assert origins.is_traced(verified) == (verified not in (None, "unknown"))


def test_database_flags_agree_for_every_combination(db):
    made = []
    for i, (perceived, verified) in enumerate(itertools.product(KEYS, KEYS)):
        rule = make_rule(db, code=f"C-{i}", perceived_origin=perceived, verified_origin=verified)
        made.append((rule, perceived, verified))
    for rule, perceived, verified in made:
        assert rule.self_invented == origins.is_self_invented(verified), (perceived, verified)
        assert rule.myth == origins.is_myth(perceived, verified), (perceived, verified)
        assert rule.traced == origins.is_traced(verified), (perceived, verified)


@pytest.mark.parametrize(
    "language,key,label",
    [
        ("en", "law", "Law or regulation"),
        ("nl", "law", "Wet- en regelgeving"),
        ("nl", "interpretation", "Eigen interpretatie van externe regel"),
        ("nl", "team", "Teamgewoonte"),
        ("en", "professional_standard", "Professional standard or guideline"),
        ("nl", "unknown", "Onbekend"),
    ],
)
def test_origin_labels_are_translated(app, language, key, label):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale(language):
        assert origins.label(key) == label
