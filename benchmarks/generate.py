"""A large organisation built through the domain functions, as users would build it.

20 locations, 200 teams, 2,000 users, 10,000 rules, 100 closed review sessions with 200,000
votes (and the events all of that records), one open session for the voting benchmark, and
5,000 reports of rules by colleagues in every state (some of the rules came in as reports).
``scale`` shrinks everything but the sessions' shape (0.1: 1,000 rules).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from audit import create_app
from audit.domain import (
    ballots,
    categories,
    decisions,
    organisation,
    protocols,
    rule_reports,
    rules,
    sessions,
    users,
)
from audit.domain.origins import ORIGINS
from audit.store.db import connect, transaction

PASSWORD = "benchmark password"
WORDS = [
    "hygiëne",
    "medicatie",
    "bezoek",
    "familie",
    "taart",
    "nachtronde",
    "douchen",
    "dossier",
    "overdracht",
    "deur",
    "slot",
    "maaltijd",
    "wegen",
    "koelkast",
    "uitje",
    "alcohol",
    "kaarsen",
    "post",
    "privacy",
    "valrisico",
    "handschoenen",
    "ochtend",
    "avond",
    "rapportage",
    "toestemming",
    "bloeddruk",
    "schoonmaak",
    "huisdieren",
    "wandelen",
    "koken",
    "tuin",
]


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).capitalize()


def _reports(
    rng: random.Random,
    db,
    quality: users.User,
    members: dict[int, list[users.User]],
    rule_ids: list[int],
    n_reports: int,
    n_accepted: int,
) -> dict:
    """Reports of rules by members of every team, through the domain: a quarter named, the
    rest anonymous; n_accepted accepted as new rules, the others spread over waiting, added to
    an existing rule, declined and withdrawn."""
    states = ["untriaged"] * 30 + ["attached"] * 40 + ["declined"] * 16 + ["withdrawn"] * 10
    outcomes = ["accepted"] * n_accepted + [
        rng.choice(states) for _ in range(n_reports - n_accepted)
    ]
    rng.shuffle(outcomes)
    team_ids = list(members)
    counts: dict = {"new_rule_ids": []}
    for outcome in outcomes:
        team_id = rng.choice(team_ids)
        member = rng.choice(members[team_id])
        report = rule_reports.submit(
            db,
            "benchmark",
            member,
            title=_title(rng),
            description=" ".join(rng.choice(WORDS) for _ in range(8)),
            team_id=team_id,
            perceived_origin=rng.choice([*ORIGINS, None]),
            minutes=rng.randint(0, 60),
            period=rng.choice(["shift", "week"]),
            relation_impact=rng.choice(["hinders", "neutral", "supports", None]),
            why=" ".join(rng.choice(WORDS) for _ in range(6)),
            named=rng.random() < 0.25,
        )
        if outcome == "accepted":
            rule = rule_reports.accept_as_new_rule(
                db,
                quality,
                report.id,
                **rule_reports.rule_prefill(report),
                category_id=None,
                verified_origin=rng.choice([*ORIGINS, None]),
            )
            counts["new_rule_ids"].append(rule.id)
        elif outcome == "attached":
            rule_reports.attach(db, quality, report.id, rng.choice(rule_ids))
        elif outcome == "declined":
            rule_reports.decline(db, quality, report.id, "Geen regel van ons")
        elif outcome == "withdrawn":
            rule_reports.withdraw(db, "benchmark", member, report.id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def generate(path: Path, *, scale: float = 1.0, seed: int = 7, log=print) -> dict:
    """Build the database at ``path`` (which must not exist) and return what it holds."""
    rng = random.Random(seed)
    users.HASH_METHOD = "pbkdf2:sha256:1000"  # 2,000 scrypt hashes would take minutes
    app = create_app({"SECRET_KEY": "benchmark", "DATABASE": str(path)})
    db = connect(path)
    started = time.monotonic()
    n_locations, n_teams = 20, max(20, int(200 * scale))
    members_per_team = 10
    n_rules = int(10_000 * scale)
    n_sessions, rules_per_session, teams_per_session = max(10, int(100 * scale)), 100, 2
    with app.app_context(), transaction(db):
        quality = users.create_user(db, None, username="quality", password=PASSWORD, role="quality")
        users.create_user(db, None, username="viewer", password=PASSWORD, role="viewer")
        location_ids = [
            organisation.save_location(db, None, f"Locatie {i + 1}")["id"]
            for i in range(n_locations)
        ]
        team_ids = [
            organisation.save_team(db, None, f"Team {i + 1}", location_ids[i % n_locations])["id"]
            for i in range(n_teams)
        ]
        members: dict[int, list[users.User]] = {}
        for t, team_id in enumerate(team_ids):
            members[team_id] = [
                users.create_user(
                    db,
                    None,
                    username=f"m{t + 1}-{k + 1}",
                    password=PASSWORD,
                    role="member",
                    team_ids=[team_id],
                )
                for k in range(members_per_team)
            ]
        log(f"organisation: {len(team_ids)} teams, {sum(map(len, members.values())) + 2} users")
        category_ids = [c["id"] for c in categories.list_categories(db)]
        protocol_ids = [
            protocols.save_protocol(db, quality, name=f"Protocol {i + 1}")["id"] for i in range(40)
        ]
        origin_keys = [*ORIGINS, None]
        n_reports = int(5_000 * scale)
        # Accepted reports become rules: the register still holds n_rules in all.
        n_accepted = n_reports // 25
        rule_ids = []
        for i in range(n_rules - n_accepted):
            scope = rng.random()
            rule = rules.create_rule(
                db,
                quality,
                title=_title(rng),
                description=" ".join(rng.choice(WORDS) for _ in range(20)),
                category_id=rng.choice(category_ids),
                protocol_id=rng.choice(protocol_ids) if rng.random() < 0.6 else None,
                team_ids=rng.sample(team_ids, rng.randint(1, 2)) if 0.5 < scope < 0.8 else [],
                location_ids=[rng.choice(location_ids)] if scope >= 0.8 else [],
                owner="Kwaliteit",
                minutes_per_week=rng.randint(0, 600),
                relation_impact=rng.choice(["hinders", "neutral", "supports", None]),
                values_touched=rng.sample(["autonomy", "privacy", "dignity", "safety"], 2),
                perceived_origin=rng.choice(origin_keys),
                verified_origin=rng.choice(origin_keys),
                source_reference=f"Bron {i}" if rng.random() < 0.5 else "",
                introduced_on=f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            )
            rule_ids.append(rule.id)
        reports = _reports(rng, db, quality, members, rule_ids, n_reports, n_accepted)
        rule_ids += reports.pop("new_rule_ids")
        log(f"rules: {len(rule_ids)}, reports: {reports} ({time.monotonic() - started:.0f} s)")

        votes = 0
        for s in range(n_sessions):
            teams = rng.sample(team_ids, teams_per_session)
            session = sessions.create_session(
                db,
                quality,
                title=f"Schrapsessie {s + 1}",
                team_ids=teams,
                # A session puts only rules that apply to its teams before them.
                rule_ids=rng.sample(sessions.rule_ids_in_scope(db, teams), rules_per_session),
                anonymous=s % 2 == 0,
            )
            sessions.open_session(db, quality, session.id)
            for team_id in teams:
                for member in members[team_id]:
                    for rule_id in session.rule_ids:
                        choice = rng.choice(["keep", "adapt", "drop", "abstain"])
                        try:
                            ballots.cast_vote(db, "benchmark", member, session.id, rule_id, choice)
                        except Exception:  # a mandatory rule refuses drop: vote keep  # noqa: BLE001
                            ballots.cast_vote(db, "benchmark", member, session.id, rule_id, "keep")
                        votes += 1
            sessions.close_session(db, quality, session.id)
            for rule_id in session.rule_ids[:5]:
                decisions.record_decision(
                    db,
                    quality,
                    session.id,
                    rule_id,
                    outcome="keep",
                    rationale="Besproken en behouden",
                )
                decisions.apply_decision(db, quality, session.id, rule_id)
            if (s + 1) % 10 == 0:
                log(f"sessions: {s + 1}, votes: {votes} ({time.monotonic() - started:.0f} s)")

        voting_teams = team_ids[:2]
        open_session = sessions.create_session(
            db,
            quality,
            title="Open voor de stembenchmark",
            team_ids=voting_teams,
            rule_ids=sessions.rule_ids_in_scope(db, voting_teams, limit=100),
            anonymous=True,
        )
        sessions.open_session(db, quality, open_session.id)
    events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    log(f"done in {time.monotonic() - started:.0f} s: {votes} votes, {events} events")
    return {
        "rules": n_rules,
        "reports": n_reports,
        "votes": votes,
        "events": events,
        "open_session": open_session.id,
        "voters": [m.username for t in voting_teams for m in members[t]],
        "seconds": round(time.monotonic() - started, 1),
    }
