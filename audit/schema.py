"""The schema as numbered migrations: plain data, applied by ``audit.db.apply_migrations``.

Each migration is a list of SQL statements applied in one transaction together with its row in
``schema_migrations``. Never edit a published migration: add the next number.
"""

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

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "foundation", FOUNDATION),
]
