"""30 members voting at once over HTTP against `rule-audit serve` (waitress) on a file database,
while the facilitator reads the session and a report is exported. Bounded: a fixed number of
requests, a time limit, and the server is stopped at the end. Run with `pytest -m load`."""

import concurrent.futures
import http.cookiejar
import random
import re
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from audit import create_app
from audit.domain import sessions
from audit.store.db import connect
from tests.conftest import PASSWORD, make_rule, make_team, make_user
from tests.servers import start_server

pytestmark = pytest.mark.load

MEMBERS = 30
RULES = 10
CHANGES = 3  # votes each member changes afterwards
TIME_LIMIT = 240  # seconds for the whole run
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class Browser:
    """A tiny HTTP client with cookies, timing every request it makes."""

    def __init__(self, base: str, timings: list, lock: threading.Lock) -> None:
        self.base = base
        self.timings, self.lock = timings, lock
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                status, text = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        with self.lock:
            self.timings.append((path, status, time.perf_counter() - started, text))
        return status, text

    def token(self, path: str) -> str:
        status, text = self.request(path)
        assert status == 200, (path, status)
        return TOKEN.search(text).group(1)

    def login(self, username: str) -> None:
        token = self.token("/login")
        status, _ = self.request(
            "/login", {"username": username, "password": PASSWORD, "csrf_token": token}
        )
        assert status == 302, username


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def server(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()  # the same instance folder, secret key and database as the server
    db = connect(app.config["DATABASE"])
    team = make_team(db, "Vlinder")
    fac = make_user(db, "fac", "quality")
    for i in range(MEMBERS):
        make_user(db, f"member{i:02d}", "member", teams=[team])
    rule_ids = [make_rule(db, code=f"R{i:02d}", verified_origin="team").id for i in range(RULES)]
    session = sessions.create_session(
        db, fac, title="Drukte", team_ids=[team["id"]], rule_ids=rule_ids
    )
    sessions.open_session(db, fac, session.id)
    running = start_server(instance, "--threads", "16")
    yield {"base": running.base, "db": db, "session": session, "rule_ids": rule_ids}
    _, stderr = running.stop()
    assert "database is locked" not in stderr
    assert "Traceback" not in stderr, stderr[-3000:]


def test_thirty_members_vote_at_once(server):
    base, db, session, rule_ids = (
        server["base"],
        server["db"],
        server["session"],
        server["rule_ids"],
    )
    timings, lock = [], threading.Lock()
    accepted: list[tuple[int, int, str]] = []
    started = time.monotonic()
    stop = threading.Event()

    def member(index: int) -> None:
        browser = Browser(base, timings, lock)
        browser.login(f"member{index:02d}")
        vote_page = f"/sessions/{session.id}/vote"
        token = browser.token(vote_page)
        rng = random.Random(index)
        plan = [(rule, rng.choice(["keep", "adapt", "drop", "abstain"])) for rule in rule_ids]
        plan += [(rule, rng.choice(["keep", "drop"])) for rule in rng.sample(rule_ids, CHANGES)]
        for rule_id, choice in plan:
            assert time.monotonic() - started < TIME_LIMIT, "load test over its time limit"
            status, _ = browser.request(
                vote_page, {"csrf_token": token, f"choice-{rule_id}": choice}
            )
            if status == 302:
                with lock:
                    accepted.append((index, rule_id, choice))

    def facilitator() -> None:
        browser = Browser(base, timings, lock)
        browser.login("fac")
        for _ in range(40):
            if stop.is_set():
                break
            browser.request(f"/sessions/{session.id}")
            time.sleep(0.05)

    def exporter() -> None:
        browser = Browser(base, timings, lock)
        browser.login("fac")
        for _ in range(3):
            status, _ = browser.request("/dashboard/report.xlsx")
            assert status == 200

    with concurrent.futures.ThreadPoolExecutor(max_workers=MEMBERS + 2) as pool:
        side = [pool.submit(facilitator), pool.submit(exporter)]
        voters = [pool.submit(member, i) for i in range(MEMBERS)]
        for future in voters:
            future.result(timeout=TIME_LIMIT)
        stop.set()
        for future in side:
            future.result(timeout=TIME_LIMIT)
    elapsed = time.monotonic() - started

    failures = [
        (path, status)
        for path, status, _, text in timings
        if status >= 500 or "database is locked" in text
    ]
    assert failures == []
    expected_votes = MEMBERS * (RULES + CHANGES)
    assert len(accepted) == expected_votes, "every vote was accepted"
    # Stored exactly once per member and rule; the last vote is the one that counts.
    assert (
        db.execute("SELECT count(*) FROM ballots WHERE session_id = ?", [session.id]).fetchone()[0]
        == MEMBERS * RULES
    )
    last = {}
    for member_index, rule_id, choice in accepted:  # each member's votes in the order cast
        last[(member_index, rule_id)] = choice
    tally = {}
    for choice in last.values():
        tally[choice] = tally.get(choice, 0) + 1
    stored = dict(
        db.execute(
            "SELECT choice, count(*) FROM ballots WHERE session_id = ? GROUP BY choice",
            [session.id],
        ).fetchall()
    )
    assert stored == tally
    ballot_events = db.execute(
        "SELECT count(*) FROM events"
        " WHERE entity = 'review_session' AND entity_id = ? AND action = 'ballot'",
        [session.id],
    ).fetchone()[0]
    # The session is anonymous: no event per vote, whose time could be joined with a login.
    assert ballot_events == 0, "no event per anonymous vote"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    vote_times = sorted(
        t for path, status, t, _ in timings if path.endswith("/vote") and status == 302
    )
    p95 = vote_times[int(0.95 * (len(vote_times) - 1))]
    print(
        f"\nload: {len(accepted)} votes by {MEMBERS} members in {elapsed:.1f} s = "
        f"{len(accepted) / elapsed:.1f} votes/s; vote p95 {p95 * 1000:.0f} ms, "
        f"median {statistics.median(vote_times) * 1000:.0f} ms; {len(timings)} requests in all"
    )
