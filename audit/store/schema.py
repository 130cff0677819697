"""The schema as numbered migrations: plain data, applied by ``audit.store.db.apply_migrations``.

Each migration is a list of SQL statements applied in one transaction together with its row in
``schema_migrations``. Never edit a published migration: add the next number. A step SQLite's
ALTER TABLE cannot take (a value added to a CHECK list, such as a new origin key) is a function
of the database in that list, built from ``rebuild_table`` below (docs/design.md, "Changing the
schema").
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

FOUNDATION = [
    """
    CREATE TABLE organisation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 200),
        default_language TEXT NOT NULL DEFAULT 'nl' CHECK (default_language IN ('en', 'nl')),
        reference_share REAL NOT NULL DEFAULT 0.7
            CHECK (reference_share >= 0 AND reference_share <= 1),
        updated_at TEXT
    )
    """,
    "INSERT INTO organisation (id) VALUES (1)",
    """
    CREATE TABLE locations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 100),
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE teams (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 100),
        location_id INTEGER REFERENCES locations (id),
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX teams_location ON teams (location_id)",
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(username) BETWEEN 1 AND 64),
        display_name TEXT NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'quality', 'member', 'viewer')),
        language TEXT CHECK (language IN ('en', 'nl')),
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        created_at TEXT NOT NULL,
        last_login_at TEXT
    )
    """,
    """
    CREATE TABLE team_members (
        team_id INTEGER NOT NULL REFERENCES teams (id),
        user_id INTEGER NOT NULL REFERENCES users (id),
        PRIMARY KEY (team_id, user_id)
    )
    """,
    "CREATE INDEX team_members_user ON team_members (user_id)",
    # One row per logged-in browser, keyed by a hash of the token in its session cookie, so that
    # logout, a password change or deactivation can end sessions on the server side.
    """
    CREATE TABLE login_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX login_sessions_user ON login_sessions (user_id)",
    # The audit trail. `changes` is JSON {field: [old, new]}; `ref_*` links an event to the thing
    # that caused it (an import, a review session).
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor_id INTEGER REFERENCES users (id),
        actor_name TEXT NOT NULL,
        entity TEXT NOT NULL,
        entity_id INTEGER,
        action TEXT NOT NULL,
        changes TEXT NOT NULL DEFAULT '{}',
        ref_entity TEXT,
        ref_id INTEGER,
        note TEXT
    )
    """,
    "CREATE INDEX events_entity ON events (entity, entity_id, id)",
    # Append-only is enforced by the database, not by convention, so no code path (or a hand
    # typed sqlite3 session) can quietly rewrite history.
    """
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END
    """,
    """
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END
    """,
]

# Origin groups as docs/design.md defines them. audit/domain/origins.py holds the same sets for
# Python; tests/test_origins.py checks that the two agree for every combination.
_EXTERNAL = "('law', 'inspectorate', 'financier', 'professional_standard', 'certification')"
_SELF = "('interpretation', 'organisation', 'team')"
_ORIGIN_KEYS = (
    "('law', 'inspectorate', 'financier', 'professional_standard', 'certification',"
    " 'interpretation', 'organisation', 'team', 'unknown')"
)

REGISTER = [
    """
    CREATE TABLE categories (
        id INTEGER PRIMARY KEY,
        name_nl TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name_nl) BETWEEN 1 AND 100),
        name_en TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name_en) BETWEEN 1 AND 100),
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        created_at TEXT NOT NULL
    )
    """,
    """
    INSERT INTO categories (name_nl, name_en, created_at) VALUES
        ('Hygiëne en infectiepreventie', 'Hygiene and infection prevention', datetime('now')),
        ('Medicatie', 'Medication', datetime('now')),
        ('Veiligheid en vallen', 'Safety and falls', datetime('now')),
        ('Eten en drinken', 'Food and drink', datetime('now')),
        ('Dagritme en wonen', 'Daily rhythm and living', datetime('now')),
        ('Bezoek en familie', 'Visitors and family', datetime('now')),
        ('Privacy en dossier', 'Privacy and records', datetime('now')),
        ('Vrijheidsbeperking', 'Restraint and freedom', datetime('now')),
        ('Persoonlijke verzorging', 'Personal care', datetime('now')),
        ('Verslaglegging en overdracht', 'Reporting and handover', datetime('now')),
        ('Activiteiten en uitjes', 'Activities and outings', datetime('now')),
        ('Huishouding en omgeving', 'Housekeeping and surroundings', datetime('now'))
    """,
    """
    CREATE TABLE protocols (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 200),
        version TEXT NOT NULL DEFAULT '' CHECK (length(version) <= 50),
        url TEXT NOT NULL DEFAULT '' CHECK (length(url) <= 500),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    f"""
    CREATE TABLE rules (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(code) BETWEEN 1 AND 30),
        title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        description TEXT NOT NULL DEFAULT '',
        category_id INTEGER REFERENCES categories (id),
        protocol_id INTEGER REFERENCES protocols (id),
        owner TEXT NOT NULL DEFAULT '',
        minutes_per_week INTEGER CHECK (minutes_per_week IS NULL OR minutes_per_week >= 0),
        relation_impact TEXT CHECK (relation_impact IN ('hinders', 'neutral', 'supports')),
        values_touched TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'under_review', 'adapted', 'dropped')),
        introduced_on TEXT,
        review_due TEXT,
        perceived_origin TEXT CHECK (perceived_origin IN {_ORIGIN_KEYS}),
        verified_origin TEXT CHECK (verified_origin IN {_ORIGIN_KEYS}),
        source_reference TEXT NOT NULL DEFAULT '',
        evidence_note TEXT NOT NULL DEFAULT '',
        verified_by INTEGER REFERENCES users (id),
        verified_on TEXT,
        -- no team and no location chosen: the rule applies to the whole organisation
        org_wide INTEGER NOT NULL DEFAULT 1 CHECK (org_wide IN (0, 1)),
        archived_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        -- bumped on every change, so an edit made on a stale form is refused
        version INTEGER NOT NULL DEFAULT 1,
        -- title, description, code and source reference, lower-cased without accents
        search_text TEXT NOT NULL DEFAULT '',
        traced INTEGER GENERATED ALWAYS AS (
            coalesce(verified_origin IS NOT NULL AND verified_origin <> 'unknown', 0)) VIRTUAL,
        self_invented INTEGER GENERATED ALWAYS AS (
            coalesce(verified_origin IN {_SELF}, 0)) VIRTUAL,
        myth INTEGER GENERATED ALWAYS AS (
            coalesce(perceived_origin IN {_EXTERNAL} AND verified_origin IN {_SELF}, 0)) VIRTUAL
    )
    """,
    "CREATE INDEX rules_live ON rules (archived_at, status)",
    "CREATE INDEX rules_category ON rules (category_id)",
    "CREATE INDEX rules_protocol ON rules (protocol_id)",
    "CREATE INDEX rules_verified ON rules (verified_origin)",
    "CREATE INDEX rules_perceived ON rules (perceived_origin)",
    "CREATE INDEX rules_created ON rules (created_at, id)",
    "CREATE INDEX rules_review_due ON rules (review_due)",
    """
    CREATE TABLE rule_teams (
        rule_id INTEGER NOT NULL REFERENCES rules (id),
        team_id INTEGER NOT NULL REFERENCES teams (id),
        PRIMARY KEY (rule_id, team_id)
    )
    """,
    "CREATE INDEX rule_teams_team ON rule_teams (team_id)",
    """
    CREATE TABLE rule_locations (
        rule_id INTEGER NOT NULL REFERENCES rules (id),
        location_id INTEGER NOT NULL REFERENCES locations (id),
        PRIMARY KEY (rule_id, location_id)
    )
    """,
    "CREATE INDEX rule_locations_location ON rule_locations (location_id)",
]

REVIEW_SESSIONS = [
    """
    CREATE TABLE review_sessions (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        introduction TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL CHECK (mode IN ('online', 'hands')),
        anonymous INTEGER NOT NULL DEFAULT 1 CHECK (anonymous IN (0, 1)),
        state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed')),
        opens_at TEXT,
        closes_at TEXT,
        quorum INTEGER NOT NULL CHECK (quorum >= 0),
        present INTEGER CHECK (present IS NULL OR present >= 0),
        facilitator_id INTEGER NOT NULL REFERENCES users (id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        closed_at TEXT,
        version INTEGER NOT NULL DEFAULT 1
    )
    """,
    """
    CREATE TABLE session_teams (
        session_id INTEGER NOT NULL REFERENCES review_sessions (id),
        team_id INTEGER NOT NULL REFERENCES teams (id),
        PRIMARY KEY (session_id, team_id)
    )
    """,
    "CREATE INDEX session_teams_team ON session_teams (team_id)",
    """
    CREATE TABLE session_rules (
        session_id INTEGER NOT NULL REFERENCES review_sessions (id),
        rule_id INTEGER NOT NULL REFERENCES rules (id),
        position INTEGER NOT NULL,
        PRIMARY KEY (session_id, rule_id)
    )
    """,
    "CREATE INDEX session_rules_rule ON session_rules (rule_id)",
    # One row per member and rule; the last vote replaces the earlier one. In an anonymous
    # session voter_id stays empty and voter_key is a keyed hash (the key is the app's secret,
    # not stored here), so the database holds no readable link between a person and a vote.
    """
    CREATE TABLE ballots (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL,
        rule_id INTEGER NOT NULL,
        voter_key TEXT NOT NULL,
        voter_id INTEGER REFERENCES users (id),
        choice TEXT NOT NULL CHECK (choice IN ('keep', 'adapt', 'drop', 'abstain')),
        reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
        cast_at TEXT NOT NULL,
        UNIQUE (session_id, rule_id, voter_key),
        FOREIGN KEY (session_id, rule_id) REFERENCES session_rules (session_id, rule_id)
    )
    """,
    """
    CREATE TABLE hand_counts (
        session_id INTEGER NOT NULL,
        rule_id INTEGER NOT NULL,
        keep INTEGER NOT NULL DEFAULT 0 CHECK (keep >= 0),
        adapt INTEGER NOT NULL DEFAULT 0 CHECK (adapt >= 0),
        drop_count INTEGER NOT NULL DEFAULT 0 CHECK (drop_count >= 0),
        abstain INTEGER NOT NULL DEFAULT 0 CHECK (abstain >= 0),
        entered_by INTEGER REFERENCES users (id),
        entered_at TEXT NOT NULL,
        PRIMARY KEY (session_id, rule_id),
        FOREIGN KEY (session_id, rule_id) REFERENCES session_rules (session_id, rule_id)
    )
    """,
    # minutes_before/after are the rule's minutes per week when the decision was applied: the
    # hours given back are read from them, so later edits of the rule do not rewrite the past.
    """
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL,
        rule_id INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('keep', 'adapt', 'drop')),
        new_title TEXT,
        new_description TEXT,
        new_minutes_per_week INTEGER
            CHECK (new_minutes_per_week IS NULL OR new_minutes_per_week >= 0),
        rationale TEXT NOT NULL CHECK (length(rationale) BETWEEN 1 AND 5000),
        decided_by INTEGER NOT NULL REFERENCES users (id),
        decided_at TEXT NOT NULL,
        applied_by INTEGER REFERENCES users (id),
        applied_at TEXT,
        minutes_before INTEGER,
        minutes_after INTEGER,
        UNIQUE (session_id, rule_id),
        FOREIGN KEY (session_id, rule_id) REFERENCES session_rules (session_id, rule_id)
    )
    """,
    "CREATE INDEX decisions_rule ON decisions (rule_id, applied_at)",
]

# Migration 4: where the reference share comes from, shown wherever the reference is drawn, so
# that a reader can check the figure; and a reference may be left empty (then none is drawn).
# The research figure of 70% gets its source in both languages; an organisation that had set a
# figure of its own names its source when it next saves the settings. SQLite cannot drop NOT NULL
# from a column, so the table is rebuilt (nothing refers to it) in the migration's transaction.
# The labels are part of this migration: never change them here (the demo uses them too).
DEFAULT_REFERENCE_LABEL_NL = (
    "Onderzoek naar regels in de Nederlandse ouderenzorg: tot ongeveer 70% zelf bedacht"
)
DEFAULT_REFERENCE_LABEL_EN = (
    "Research on rules in Dutch elderly care: up to about 70% self-invented"
)

REFERENCE_SOURCE = [
    """
    CREATE TABLE organisation_new (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 200),
        default_language TEXT NOT NULL DEFAULT 'nl' CHECK (default_language IN ('en', 'nl')),
        -- empty: no reference, and no reference line anywhere
        reference_share REAL
            CHECK (reference_share IS NULL OR (reference_share >= 0 AND reference_share <= 1)),
        reference_label_nl TEXT NOT NULL DEFAULT '' CHECK (length(reference_label_nl) <= 200),
        reference_label_en TEXT NOT NULL DEFAULT '' CHECK (length(reference_label_en) <= 200),
        updated_at TEXT
    )
    """,
    f"""
    INSERT INTO organisation_new (id, name, default_language, reference_share,
                                  reference_label_nl, reference_label_en, updated_at)
    SELECT id, name, default_language, reference_share,
           CASE WHEN reference_share = 0.7 THEN '{DEFAULT_REFERENCE_LABEL_NL}' ELSE '' END,
           CASE WHEN reference_share = 0.7 THEN '{DEFAULT_REFERENCE_LABEL_EN}' ELSE '' END,
           updated_at
    FROM organisation
    """,
    "DROP TABLE organisation",
    "ALTER TABLE organisation_new RENAME TO organisation",
]

# Anonymous ballots that nobody can link to a member, or to each other (docs/security.md,
# "Anonymous ballots"). The ballot table is rebuilt without its casting time and without a rowid,
# so rows are stored in the order of their keys: in an anonymous session a keyed hash per member
# *and rule*, so neither a row's position nor any value follows the order in which votes came in,
# and one member's ballots on two rules share nothing. Who has taken part is kept apart, in
# session_voters, under a key per member and session that no ballot carries (the same keyed hash
# the ballots used to carry, so a member who had voted before the upgrade is not counted twice).
# Ballots of anonymous sessions cast before this migration get a random key: it cannot be
# recomputed here, and keeping the old one would keep the link between a member's ballots.
BALLOT_ANONYMITY = [
    """
    CREATE TABLE session_voters (
        session_id INTEGER NOT NULL REFERENCES review_sessions (id),
        voter_key TEXT NOT NULL,
        PRIMARY KEY (session_id, voter_key)
    ) WITHOUT ROWID
    """,
    "INSERT INTO session_voters SELECT DISTINCT session_id, voter_key FROM ballots",
    """
    CREATE TABLE ballots_keyed (
        session_id INTEGER NOT NULL,
        rule_id INTEGER NOT NULL,
        voter_key TEXT NOT NULL,
        voter_id INTEGER REFERENCES users (id),
        choice TEXT NOT NULL CHECK (choice IN ('keep', 'adapt', 'drop', 'abstain')),
        reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
        PRIMARY KEY (session_id, rule_id, voter_key),
        FOREIGN KEY (session_id, rule_id) REFERENCES session_rules (session_id, rule_id)
    ) WITHOUT ROWID
    """,
    """
    INSERT INTO ballots_keyed (session_id, rule_id, voter_key, voter_id, choice, reason)
    SELECT session_id, rule_id,
           CASE WHEN voter_id IS NULL THEN lower(hex(randomblob(32))) ELSE voter_key END,
           voter_id, choice, reason
    FROM ballots
    """,
    "DROP TABLE ballots",
    "ALTER TABLE ballots_keyed RENAME TO ballots",
    # The log used to get one timed event per anonymous vote: a time to join with logins. They
    # say nothing about who or what, only when; this one migration removes them, then the log is
    # append-only again.
    "DROP TRIGGER events_no_delete",
    """
    DELETE FROM events WHERE entity = 'review_session' AND action = 'ballot'
        AND entity_id IN (SELECT id FROM review_sessions WHERE anonymous = 1)
    """,
    """
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END
    """,
    # Login times to the second could be lined up with anything that moves when a vote comes in;
    # nothing needs more than the day. Login sessions lose their rowid too: it numbered the
    # logins in the order they happened.
    "UPDATE users SET last_login_at = substr(last_login_at, 1, 10)",
    """
    CREATE TABLE login_sessions_keyed (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        created_at TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    INSERT INTO login_sessions_keyed (token_hash, user_id, created_at)
    SELECT token_hash, user_id, substr(created_at, 1, 10) FROM login_sessions
    """,
    "DROP TABLE login_sessions",
    "ALTER TABLE login_sessions_keyed RENAME TO login_sessions",
    "CREATE INDEX login_sessions_user ON login_sessions (user_id)",
]

# Migration 6: colleagues report rules (docs/design.md, "Reports of rules"; docs/security.md,
# "Anonymous reports"). A report whose reporter asked to stay anonymous holds no user id: only
# an owner key, a keyed hash of the report's own random nonce and the user under the app's
# secret, so that the reporter finds it back while two reports of one person share no value.
# It keeps a date, never a time. Ids are random (the domain draws them), not counted up, so
# neither an id nor the order of rows follows the order reports came in.
RULE_REPORTS = [
    f"""
    CREATE TABLE rule_reports (
        id INTEGER PRIMARY KEY,
        nonce TEXT NOT NULL UNIQUE,
        owner_key TEXT NOT NULL,
        reporter_id INTEGER REFERENCES users (id),
        title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
        team_id INTEGER NOT NULL REFERENCES teams (id),
        perceived_origin TEXT CHECK (perceived_origin IN {_ORIGIN_KEYS}),
        minutes_per_week INTEGER
            CHECK (minutes_per_week IS NULL OR minutes_per_week BETWEEN 0 AND 10080),
        relation_impact TEXT CHECK (relation_impact IN ('hinders', 'neutral', 'supports')),
        why TEXT NOT NULL DEFAULT '' CHECK (length(why) <= 1000),
        state TEXT NOT NULL DEFAULT 'untriaged'
            CHECK (state IN ('untriaged', 'accepted', 'attached', 'declined', 'withdrawn')),
        rule_id INTEGER REFERENCES rules (id),
        answer TEXT NOT NULL DEFAULT '' CHECK (length(answer) <= 1000),
        reported_on TEXT NOT NULL CHECK (length(reported_on) = 10),
        triaged_by INTEGER REFERENCES users (id),
        triaged_at TEXT,
        CHECK ((state IN ('accepted', 'attached')) = (rule_id IS NOT NULL)),
        CHECK (state <> 'declined' OR length(answer) > 0)
    )
    """,
    "CREATE INDEX rule_reports_state ON rule_reports (state, reported_on)",
    "CREATE INDEX rule_reports_rule ON rule_reports (rule_id, state)",
    "CREATE INDEX rule_reports_team ON rule_reports (team_id, state)",
    "CREATE INDEX rule_reports_reporter ON rule_reports (reporter_id)",
]

# Migration 9: concerns ("beren op de weg") raised with a vote, or in the room at a show of
# hands (docs/design.md, "Concerns"). Kept like the ballots they go with: no time, no rowid, in
# the order of a key that in an anonymous session is a keyed hash of session, rule and member
# (another one than the ballot's, so a concern cannot be joined to its ballot either), and no
# member id but in a named session. The answer is the facilitator's; its version refuses a
# stale edit. The kinds are those of audit/domain/vocabulary.py (CONCERN_KINDS).
CONCERNS = [
    """
    CREATE TABLE concerns (
        session_id INTEGER NOT NULL,
        rule_id INTEGER NOT NULL,
        concern_key TEXT NOT NULL,
        voter_id INTEGER REFERENCES users (id),
        kind TEXT NOT NULL CHECK (kind IN ('inspectorate', 'incident', 'reaction', 'other')),
        text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
        answer TEXT NOT NULL DEFAULT '' CHECK (length(answer) <= 2000),
        answer_version INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, rule_id, concern_key),
        FOREIGN KEY (session_id, rule_id) REFERENCES session_rules (session_id, rule_id)
    ) WITHOUT ROWID
    """,
]

# Migration 11: follow-up actions on decisions (audit/domain/actions.py): what, an owner, a due
# day, and done on a day by someone. ``version`` refuses stale edits as on rules and sessions.
# Done is one fact: a day and who, both or neither. The indexes serve "my actions" (per owner,
# open first by due day) and the overdue lists (open actions by due day).
FOLLOW_UP_ACTIONS: list[Step] = [
    """
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        decision_id INTEGER NOT NULL REFERENCES decisions (id),
        what TEXT NOT NULL CHECK (length(what) BETWEEN 1 AND 300),
        owner_id INTEGER NOT NULL REFERENCES users (id),
        due_on TEXT NOT NULL CHECK (length(due_on) = 10),
        note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
        done_on TEXT CHECK (done_on IS NULL OR length(done_on) = 10),
        done_by INTEGER REFERENCES users (id),
        done_note TEXT NOT NULL DEFAULT '' CHECK (length(done_note) <= 1000),
        created_by INTEGER NOT NULL REFERENCES users (id),
        created_at TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        CHECK ((done_on IS NULL) = (done_by IS NULL))
    )
    """,
    "CREATE INDEX actions_decision ON actions (decision_id)",
    "CREATE INDEX actions_owner ON actions (owner_id, done_on, due_on)",
    "CREATE INDEX actions_open ON actions (done_on, due_on)",
]

# A step of a migration: SQL, or a function of the database (run inside the same transaction).
Step = str | Callable[[Any], None]


# Migration 7: the mirror check on new rules (docs/design.md, "The mirror check"). A rule gets
# the problem it solves and the alternatives considered; its status may be `proposed` (not yet in
# force, until a team session keeps it), which the status CHECK must allow, so the table is
# rebuilt; the organisation gets its review horizon (months, 1 to 60) and whether new rules start
# as proposed.
def _allow_proposed_status(db: Any) -> None:
    rebuild_table(db, "rules", lambda sql: add_check_values(sql, "status", "proposed"))


MIRROR_CHECK: list[Step] = [
    _allow_proposed_status,
    "ALTER TABLE rules ADD COLUMN problem TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE rules ADD COLUMN alternatives TEXT NOT NULL DEFAULT ''",
    """
    ALTER TABLE organisation ADD COLUMN review_horizon_months INTEGER NOT NULL DEFAULT 12
        CHECK (review_horizon_months BETWEEN 1 AND 60)
    """,
    """
    ALTER TABLE organisation ADD COLUMN new_rules_proposed INTEGER NOT NULL DEFAULT 0
        CHECK (new_rules_proposed IN (0, 1))
    """,
]


# Rules in and out (audit/domain/flow.py) reads the events that move a rule in or out after its
# creation: archive, restore and a change of status. A partial index holds just those, so the
# dashboard does not read every rule's creation record, the largest rows of the log, to find
# them. Its WHERE is the one flow.flow_events() writes: SQLite uses a partial index only for a
# query that repeats its condition.
RULE_FLOW_INDEX: list[Step] = [
    """
    CREATE INDEX events_rule_flow ON events (entity_id, id, action)
    WHERE entity = 'rule' AND (action IN ('archive', 'restore')
        OR instr(changes, '"status": ["') > 0)
    """,
]

# Migration 10: adapt strategies (docs/design.md, "Adapt strategies"). The organisation's own
# list of how a rule is stretched, kept like the categories; the starter set carries a key so
# the demo and the tests can find it whatever the organisation renames it to. A decision names
# its strategy only when it adapts the rule; decisions from before this migration have none.
ADAPT_STRATEGIES: list[Step] = [
    """
    CREATE TABLE adapt_strategies (
        id INTEGER PRIMARY KEY,
        key TEXT UNIQUE,
        name_nl TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name_nl) BETWEEN 1 AND 100),
        name_en TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name_en) BETWEEN 1 AND 100),
        explanation_nl TEXT NOT NULL DEFAULT '' CHECK (length(explanation_nl) <= 500),
        explanation_en TEXT NOT NULL DEFAULT '' CHECK (length(explanation_en) <= 500),
        position INTEGER NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 999),
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL
    )
    """,
    """
    INSERT INTO adapt_strategies
        (key, position, name_nl, name_en, explanation_nl, explanation_en, created_at)
    VALUES
        ('time', 10, 'Tijd oprekken', 'Stretch the time',
         'Minder vaak, of op een later moment.', 'Less often, or at a later moment.',
         datetime('now')),
        ('volume', 20, 'Omvang verkleinen', 'Reduce the volume',
         'Minder onderdelen, minder cliënten of minder velden.',
         'Fewer items, fewer clients or fewer fields.', datetime('now')),
        ('intent', 30, 'Naar de bedoeling handelen', 'Widen the intent',
         'Doen waar de regel voor bedoeld is, niet wat er letterlijk staat.',
         'Apply what the rule is for, not what it literally says.', datetime('now')),
        ('client_view', 40, 'Vanuit de cliënt kijken', 'Take the client''s perspective',
         'De regel afstemmen op wat de cliënt wil en nodig heeft.',
         'Shape the rule around what the client wants and needs.', datetime('now')),
        ('per_client', 50, 'Per cliënt afspreken', 'Tailor it per client',
         'Per cliënt vastleggen wat geldt, bijvoorbeeld in het zorgplan.',
         'Agree per client what applies, for instance in the care plan.', datetime('now')),
        ('source_room', 60, 'Ruimte van de bron benutten', 'Stretch to the room of the source',
         'Terug naar de wet of richtlijn, en alle ruimte gebruiken die die laat.',
         'Go back to the law or guideline and use all the room it leaves.', datetime('now')),
        ('experiment', 70, 'Experimenteren', 'Experiment',
         'De aangepaste regel een tijd uitproberen en daarna opnieuw bekijken.',
         'Try the adapted rule for a while, then look at it again.', datetime('now'))
    """,
    """
    ALTER TABLE decisions ADD COLUMN strategy_id INTEGER REFERENCES adapt_strategies (id)
        CHECK (strategy_id IS NULL OR outcome = 'adapt')
    """,
    "CREATE INDEX decisions_strategy ON decisions (strategy_id)",
]

# Migration 12: the client council's advice on decisions (docs/design.md, "Client council
# advice"). The organisation chooses whether advice is off, asked or required; a category can be
# marked as part of residents' daily life; a session can be shared with the council, so that a
# viewer (the council's account) may enter advice on its decisions. The advice has a table of
# its own, one row per decision, with a version against stale edits.
CLIENT_COUNCIL: list[Step] = [
    """
    ALTER TABLE organisation ADD COLUMN council_advice TEXT NOT NULL DEFAULT 'off'
        CHECK (council_advice IN ('off', 'ask', 'required'))
    """,
    """
    ALTER TABLE categories ADD COLUMN daily_life INTEGER NOT NULL DEFAULT 0
        CHECK (daily_life IN (0, 1))
    """,
    """
    CREATE TABLE council_shares (
        session_id INTEGER PRIMARY KEY REFERENCES review_sessions (id),
        shared_by INTEGER NOT NULL REFERENCES users (id),
        shared_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE council_advice (
        decision_id INTEGER PRIMARY KEY REFERENCES decisions (id),
        advised_on TEXT NOT NULL CHECK (length(advised_on) = 10),
        advice TEXT NOT NULL CHECK (length(advice) BETWEEN 1 AND 5000),
        followed INTEGER NOT NULL CHECK (followed IN (0, 1)),
        reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 5000),
        entered_by INTEGER NOT NULL REFERENCES users (id),
        entered_at TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        CHECK (followed = 1 OR length(reason) > 0)
    )
    """,
]


# Migration 13: experiments without a rule (docs/design.md, "Experiments"). A decision may be
# "experiment": try without the rule for some teams and weeks. Its scope and period are kept
# with the decision (the team ids as JSON; empty means the session's teams); applying it starts
# an experiment, whose teams are its own table so the figures can ask "suspended for this
# team?" with a join. A follow-up session names the experiment it decides on.
def _allow_experiment_outcome(db: Any) -> None:
    rebuild_table(db, "decisions", lambda sql: add_check_values(sql, "outcome", "experiment"))


EXPERIMENTS: list[Step] = [
    _allow_experiment_outcome,
    """
    ALTER TABLE decisions ADD COLUMN experiment_weeks INTEGER
        CHECK (experiment_weeks IS NULL OR experiment_weeks BETWEEN 1 AND 26)
    """,
    "ALTER TABLE decisions ADD COLUMN experiment_team_ids TEXT",
    """
    CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        rule_id INTEGER NOT NULL REFERENCES rules (id),
        decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id),
        starts_on TEXT NOT NULL,
        ends_on TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'closed')),
        extended INTEGER NOT NULL DEFAULT 0 CHECK (extended IN (0, 1)),
        closed_by_decision_id INTEGER REFERENCES decisions (id),
        closed_at TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        CHECK (ends_on > starts_on),
        CHECK ((state = 'closed') = (closed_at IS NOT NULL))
    )
    """,
    "CREATE INDEX experiments_rule ON experiments (rule_id, state)",
    """
    CREATE TABLE experiment_teams (
        experiment_id INTEGER NOT NULL REFERENCES experiments (id),
        team_id INTEGER NOT NULL REFERENCES teams (id),
        PRIMARY KEY (experiment_id, team_id)
    )
    """,
    "CREATE INDEX experiment_teams_team ON experiment_teams (team_id)",
    """
    CREATE TABLE experiment_observations (
        id INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments (id),
        observed_on TEXT NOT NULL,
        what TEXT NOT NULL CHECK (length(what) BETWEEN 1 AND 2000),
        effect TEXT NOT NULL CHECK (effect IN ('hinders', 'neutral', 'supports')),
        incident INTEGER NOT NULL DEFAULT 0 CHECK (incident IN (0, 1)),
        incident_text TEXT NOT NULL DEFAULT '' CHECK (length(incident_text) <= 2000),
        recorded_by INTEGER NOT NULL REFERENCES users (id),
        recorded_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX experiment_observations_experiment ON experiment_observations (experiment_id)",
    "ALTER TABLE review_sessions ADD COLUMN experiment_id INTEGER REFERENCES experiments (id)",
]

MIGRATIONS: list[tuple[int, str, list[Step]]] = [
    (1, "foundation", FOUNDATION),
    (2, "register", REGISTER),
    (3, "review sessions", REVIEW_SESSIONS),
    (4, "reference source", REFERENCE_SOURCE),
    (5, "anonymous ballots", BALLOT_ANONYMITY),
    (6, "rule reports", RULE_REPORTS),
    (7, "mirror check", MIRROR_CHECK),
    (8, "rule flow index", RULE_FLOW_INDEX),
    (9, "concerns", CONCERNS),
    (10, "adapt strategies", ADAPT_STRATEGIES),
    (11, "follow-up actions", FOLLOW_UP_ACTIONS),
    (12, "client council advice", CLIENT_COUNCIL),
    (13, "experiments", EXPERIMENTS),
]


# --- changing what SQLite cannot ALTER (docs/design.md, "Changing the schema") -----------------

_QUOTED_LIST = re.compile(r"\(\s*'[^']*'(?:\s*,\s*'[^']*')*\s*\)")
_ITEM = re.compile(r"'([^']*)'")


def _sql_text(value: str) -> str:
    if "'" in value:
        raise ValueError(f"a listed value is a plain word: {value!r}")
    return f"'{value}'"


def add_to_lists(create_sql: str, member: str, *values: str) -> str:
    """``create_sql`` with ``values`` added to every quoted list, ``('a', 'b')``, that holds
    ``member``: in CHECK constraints and in generated columns alike. A new key goes where its
    sibling is (a self-invented origin wherever ``'team'`` is listed), so CHECKs and the
    generated flags move together. Raises ValueError when no list holds ``member``."""
    found = False

    def widen(match: re.Match) -> str:
        nonlocal found
        items = _ITEM.findall(match.group(0))
        if member not in items:
            return match.group(0)
        found = True
        items += [v for v in values if v not in items]
        return "(" + ", ".join(_sql_text(item) for item in items) + ")"

    changed = _QUOTED_LIST.sub(widen, create_sql)
    if not found:
        raise ValueError(f"no list holds {member!r}")
    return changed


def add_check_values(create_sql: str, column: str, *values: str) -> str:
    """``create_sql`` with ``values`` added to ``CHECK (column IN (...))``."""
    pattern = re.compile(
        rf"(CHECK\s*\(\s*\"?{re.escape(column)}\"?\s+IN\s*)({_QUOTED_LIST.pattern})", re.I
    )
    matches = pattern.findall(create_sql)
    if len(matches) != 1:
        raise ValueError(f"{len(matches)} CHECK lists for {column!r}, expected one")

    def widen(match: re.Match) -> str:
        items = _ITEM.findall(match.group(2))
        items += [v for v in values if v not in items]
        return match.group(1) + "(" + ", ".join(_sql_text(item) for item in items) + ")"

    return pattern.sub(widen, create_sql)


# The sibling whose lists a new origin key joins, per group of audit/domain/origins.py.
ORIGIN_SIBLINGS = {
    "external_mandatory": "law",
    "external_professional": "professional_standard",
    "external_chosen": "certification",
    "self_invented": "team",
    "not_traced": "unknown",
}


def add_origin_key(db: Any, key: str, group: str) -> None:
    """Allow a new origin key in ``rules`` (both origin CHECKs, and the lists its group's
    generated columns read), rebuilding the table. A migration step; see docs/design.md for
    the code that must change with it."""
    sibling = ORIGIN_SIBLINGS[group]
    rebuild_table(db, "rules", lambda sql: add_to_lists(sql, sibling, key))


def rebuild_table(db: Any, table: str, edit: Callable[[str], str]) -> None:
    """Rebuild ``table`` from its CREATE statement changed by ``edit``, keeping its rows (by
    column name; generated columns are computed afresh), indexes and triggers, and checking
    every foreign key afterwards: SQLite's own procedure for changes ALTER TABLE cannot make
    (docs/design.md, "Changing the schema").

    Runs inside the caller's transaction (a migration's), so a failure at any step leaves the
    database as it was. Foreign key enforcement must be off (``apply_migrations`` sees to it;
    the pragma cannot change inside a transaction): with it on, dropping the old table would
    delete, or refuse to delete, the rows that point at it.
    """
    if not db.conn.in_transaction:
        raise RuntimeError("rebuild_table runs inside a transaction")
    if db.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("rebuild_table needs PRAGMA foreign_keys = OFF")
    old_sql = db.execute(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", [table]
    ).fetchone()[0]
    # Indexes made by UNIQUE and PRIMARY KEY have no SQL: the new table makes them again.
    kept = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('index', 'trigger')"
            " AND sql IS NOT NULL ORDER BY type, name",
            [table],
        )
    ]
    temporary = f"{table}__rebuilt"
    new_sql, made = re.subn(
        rf"^\s*CREATE\s+TABLE\s+(\"?){re.escape(table)}\1(?=\s*\()",
        f'CREATE TABLE "{temporary}"',
        edit(old_sql),
        count=1,
        flags=re.I,
    )
    if not made:
        raise ValueError(f"edit must return a CREATE TABLE statement for {table}")
    db.execute(new_sql)

    def stored(name: str) -> list[str]:
        # hidden 0: an ordinary column; 2 and 3 are generated ones, which cannot be written.
        return [r[1] for r in db.execute(f'PRAGMA table_xinfo("{name}")') if r[6] == 0]

    new_columns = stored(temporary)
    columns = ", ".join(f'"{c}"' for c in stored(table) if c in new_columns)
    db.execute(f'INSERT INTO "{temporary}" ({columns}) SELECT {columns} FROM "{table}"')
    db.execute(f'DROP TABLE "{table}"')
    # The legacy rename leaves the text of other tables' triggers and views alone: they name
    # the table, which has its old name back once the rename is done.
    legacy = db.execute("PRAGMA legacy_alter_table").fetchone()[0]
    db.execute("PRAGMA legacy_alter_table = ON")
    try:
        db.execute(f'ALTER TABLE "{temporary}" RENAME TO "{table}"')
    finally:
        db.execute(f"PRAGMA legacy_alter_table = {int(legacy)}")
    for sql in kept:
        db.execute(sql)
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise sqlite3.IntegrityError(f"rebuilding {table} broke foreign keys: {broken[:5]}")
