"""Accounts: creation, roles, team membership, passwords and the login lock-out."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlite_utils import Database
from werkzeug.security import check_password_hash, generate_password_hash

from audit.core import clock
from audit.core.errors import LoginFailed, NotFound, ValidationError, check
from audit.domain import events
from audit.domain.roles import ROLES
from audit.store.db import is_duplicate, transaction

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "quality": _l("Quality manager"),
    "member": _l("Team member"),
    "viewer": _l("Viewer"),
}
# ASCII only, so that SQLite's NOCASE makes "Anna" and "anna" the same account everywhere
# (unique index, login, lock-out).
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 128
DISPLAY_NAME_MAX = 100
# werkzeug's scrypt: slow on purpose. Tests and the benchmark generator swap in a cheap method.
HASH_METHOD = "scrypt"


@dataclass
class User(UserMixin):
    id: int
    username: str
    display_name: str
    role: str
    language: str | None
    active: bool
    team_ids: list[int] = field(default_factory=list)
    session_token: str | None = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str | None:
        # Flask-Login keeps this in the cookie: a random token of this login, not the user id,
        # so the server can end one session (logout) or all of them (password change).
        return self.session_token

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


_COLUMNS = "id, username, display_name, role, language, active"


def _user(db: Database, row: dict) -> User:
    teams = [
        r[0]
        for r in db.execute(
            "SELECT team_id FROM team_members WHERE user_id = ? ORDER BY team_id", [row["id"]]
        )
    ]
    return User(**{**row, "active": bool(row["active"])}, team_ids=teams)


def get_user(db: Database, user_id: int) -> User:
    rows = list(db.query(f"SELECT {_COLUMNS} FROM users WHERE id = ?", [user_id]))
    if not rows:
        raise NotFound(_l("No such user."))
    return _user(db, rows[0])


def find_user(db: Database, username: str) -> User | None:
    rows = list(
        db.query(
            f"SELECT {_COLUMNS} FROM users WHERE username = ? COLLATE NOCASE",
            [(username or "").strip()],
        )
    )
    return _user(db, rows[0]) if rows else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, user: User) -> User:
    """Open a login session; the returned user carries the token for the cookie."""
    token = secrets.token_urlsafe(32)
    with transaction(db):
        db.execute(
            "INSERT INTO login_sessions (token_hash, user_id, created_at) VALUES (?, ?, ?)",
            # The day only: a login time to the second lines up with whatever happens next.
            [_token_hash(token), user.id, clock.today().isoformat()],
        )
    user.session_token = token
    return user


def load_session_user(db: Database, token: str) -> User | None:
    """The active user behind a session token, or None when that session has ended."""
    row = db.execute(
        "SELECT user_id FROM login_sessions WHERE token_hash = ?", [_token_hash(token or "")]
    ).fetchone()
    if row is None:
        return None
    user = get_user(db, row[0])
    if not user.active:
        return None
    user.session_token = token
    return user


def end_session(db: Database, token: str | None) -> None:
    with transaction(db):
        db.execute("DELETE FROM login_sessions WHERE token_hash = ?", [_token_hash(token or "")])


def _end_other_sessions(db: Database, user_id: int, keep_token: str | None) -> None:
    db.execute(
        "DELETE FROM login_sessions WHERE user_id = ? AND token_hash != ?",
        [user_id, _token_hash(keep_token) if keep_token else ""],
    )


def count_users(db: Database) -> int:
    return db.execute("SELECT count(*) FROM users").fetchone()[0]


def list_users(db: Database) -> list[dict]:
    return list(
        db.query(
            """
            SELECT u.id, u.username, u.display_name, u.role, u.active, u.last_login_at,
                   group_concat(t.name, ', ') AS team_names
            FROM users u
            LEFT JOIN team_members m ON m.user_id = u.id
            LEFT JOIN teams t ON t.id = m.team_id
            GROUP BY u.id ORDER BY u.active DESC, u.username COLLATE NOCASE
            """
        )
    )


def team_members(db: Database, team_id: int, active_only: bool = True) -> list[dict]:
    return list(
        db.query(
            """
            SELECT u.id, u.username, u.display_name, u.role FROM users u
            JOIN team_members m ON m.user_id = u.id
            WHERE m.team_id = ? AND (u.active OR NOT ?)
            ORDER BY u.username COLLATE NOCASE
            """,
            [team_id, active_only],
        )
    )


# --- validation -----------------------------------------------------------------------------


def _validate_password(password: str | None, errors: dict[str, Any]) -> None:
    if not password or len(password) < PASSWORD_MIN:
        errors["password"] = _l("Use at least %(n)s characters.", n=PASSWORD_MIN)
    elif len(password) > PASSWORD_MAX:
        errors["password"] = _l("At most %(n)s characters.", n=PASSWORD_MAX)


def _validate_profile(
    db: Database, role: str, display_name: str, team_ids: list[int], errors: dict[str, Any]
) -> None:
    if role not in ROLES:
        errors["role"] = _l("Unknown role. Choose one of: %(roles)s", roles=", ".join(ROLES))
    if len(display_name) > DISPLAY_NAME_MAX:
        errors["display_name"] = _l("At most %(n)s characters.", n=DISPLAY_NAME_MAX)
    if team_ids:
        placeholders = ",".join("?" * len(team_ids))
        found = db.execute(
            f"SELECT count(*) FROM teams WHERE id IN ({placeholders})",
            list(team_ids),
        ).fetchone()[0]
        if found != len(set(team_ids)):
            errors["team_ids"] = _l("No such team.")


def _set_teams(db: Database, user_id: int, team_ids: list[int]) -> None:
    db.execute("DELETE FROM team_members WHERE user_id = ?", [user_id])
    for team_id in sorted(set(team_ids)):
        db.execute("INSERT INTO team_members (team_id, user_id) VALUES (?, ?)", [team_id, user_id])


def _team_names(db: Database, team_ids: list[int]) -> list[str]:
    if not team_ids:
        return []
    placeholders = ",".join("?" * len(team_ids))
    return [
        r[0]
        for r in db.execute(
            f"SELECT name FROM teams WHERE id IN ({placeholders}) ORDER BY name",
            list(team_ids),
        )
    ]


# --- actions --------------------------------------------------------------------------------


def create_user(
    db: Database,
    actor: events.Actor | None,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    team_ids: list[int] | None = None,
    language: str | None = None,
) -> User:
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    team_ids = list(team_ids or [])
    errors: dict[str, Any] = {}
    if not USERNAME_RE.match(username):
        errors["username"] = _l(
            "Use 1 to 64 letters, digits or . _ @ - (no spaces), starting with a letter or digit."
        )
    _validate_password(password, errors)
    _validate_profile(db, role, display_name, team_ids, errors)
    if language not in (None, "en", "nl"):
        errors["language"] = _l("Choose Dutch or English.")
    check(errors)
    hashed = _hash(password)
    with transaction(db):
        try:
            user_id = db.execute(
                """
                INSERT INTO users (username, display_name, password_hash, role, language,
                                   created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [username, display_name, hashed, role, language, clock.now_iso()],
            ).lastrowid
        except sqlite3.IntegrityError as error:
            if not is_duplicate(error, "users", "username"):
                raise
            raise ValidationError({"username": _l("This user name is taken.")}) from None
        _set_teams(db, user_id, team_ids)
        events.record(
            db,
            actor,
            "user",
            user_id,
            "create",
            {
                "username": [None, username],
                "role": [None, role],
                "teams": [None, _team_names(db, team_ids)],
            },
        )
    return get_user(db, user_id)


def update_user(
    db: Database,
    actor: events.Actor | None,
    user_id: int,
    *,
    role: str,
    display_name: str = "",
    team_ids: list[int] | None = None,
    active: bool = True,
    password: str | None = None,
) -> User:
    """Change a user's profile, role, teams and state, and with ``password`` their password:
    everything is checked first and written in one transaction, so a refused password leaves
    the role as it was. A new password ends every session of the user."""
    display_name = (display_name or "").strip()
    team_ids = list(team_ids or [])
    errors: dict[str, Any] = {}
    _validate_profile(db, role, display_name, team_ids, errors)
    if password:
        _validate_password(password, errors)
    check(errors)
    hashed = _hash(password) if password else None  # slow: before the write lock
    with transaction(db):
        old = get_user(db, user_id)
        if actor is not None and actor.id == user_id and (role != "admin" or not active):
            # An admin locking themselves out leaves nobody to undo it.
            raise ValidationError({"role": _l("You cannot remove your own admin rights.")})
        if old.role == "admin" and (role != "admin" or not active) and _admins(db) <= 1:
            raise ValidationError({"role": _l("The last active administrator must stay.")})
        db.execute(
            "UPDATE users SET role = ?, display_name = ?, active = ? WHERE id = ?",
            [role, display_name, int(active), user_id],
        )
        if not active:
            _end_other_sessions(db, user_id, None)
        _set_teams(db, user_id, team_ids)
        before = {
            "role": old.role,
            "display_name": old.display_name,
            "active": old.active,
            "teams": _team_names(db, old.team_ids),
        }
        after = {
            "role": role,
            "display_name": display_name,
            "active": active,
            "teams": _team_names(db, team_ids),
        }
        changes = events.diff(before, after, after)
        if changes:
            events.record(db, actor, "user", user_id, "update", changes)
        if hashed is not None:
            _write_password(db, actor, user_id, hashed, keep_session=None)
    return get_user(db, user_id)


def _admins(db: Database) -> int:
    return db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active").fetchone()[0]


def set_password(
    db: Database,
    actor: events.Actor | None,
    user_id: int,
    password: str,
    *,
    keep_session: str | None = None,
) -> User:
    """Change a password. Every session of the user ends except ``keep_session`` (the token of
    the browser the user changed it from)."""
    errors: dict[str, Any] = {}
    _validate_password(password, errors)
    check(errors)
    hashed = _hash(password)  # slow: before the write lock
    with transaction(db):
        get_user(db, user_id)
        _write_password(db, actor, user_id, hashed, keep_session=keep_session)
    return get_user(db, user_id)


def change_own_password(
    db: Database,
    user: User,
    current: str,
    password: str,
    *,
    max_failures: int = 5,
    lockout_minutes: int = 15,
    keep_session: str | None = None,
) -> User:
    """A user changing their own password: only with the current one, which counts as a login
    attempt (so guessing it here locks the account like guessing it at the login page)."""
    try:
        authenticate(
            db,
            user.username,
            current,
            max_failures=max_failures,
            lockout_minutes=lockout_minutes,
        )
    except LoginFailed:
        raise ValidationError({"current": _l("This is not your current password.")}) from None
    return set_password(db, user, user.id, password, keep_session=keep_session)


def _write_password(
    db: Database, actor: events.Actor | None, user_id: int, hashed: str, keep_session: str | None
) -> None:
    db.execute(
        "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
        [hashed, user_id],
    )
    _end_other_sessions(db, user_id, keep_session)
    # Only that it changed: a password (or its hash) never goes into the log.
    events.record(db, actor, "user", user_id, "password")


def set_language(db: Database, user_id: int, language: str) -> None:
    if language not in ("en", "nl"):
        raise ValidationError({"language": _l("Choose Dutch or English.")})
    with transaction(db):
        db.execute("UPDATE users SET language = ? WHERE id = ?", [language, user_id])


def authenticate(
    db: Database,
    username: str,
    password: str,
    *,
    max_failures: int = 5,
    lockout_minutes: int = 15,
) -> User:
    """The user for these credentials, or LoginFailed.

    After ``max_failures`` wrong passwords in a row the account is locked for
    ``lockout_minutes``, whatever password is tried. Every failure gets the same message, and
    the same hashing work, whether the name exists, the password is wrong or the account is
    locked, so trying names tells nothing.

    The hash (scrypt, slow on purpose) is checked before the write lock is taken: inside it, a
    flood of login attempts would hold up every other writer. The lock-out is decided inside
    the transaction on the row as it is then, so concurrent attempts are all counted.
    """
    row = _login_row(db, "username = ? COLLATE NOCASE", (username or "").strip())
    checked_hash = row["password_hash"] if row else _dummy_hash()
    correct = check_password_hash(checked_hash, password or "")
    if row is None:
        raise LoginFailed(login_failed_message(max_failures, lockout_minutes))
    with transaction(db):
        error = _record_attempt(
            db,
            _login_row(db, "id = ?", row["id"]),
            checked_hash,
            correct,
            max_failures,
            lockout_minutes,
        )
    # Raised after the commit: the failure count must be kept even though the login fails.
    if error is not None:
        raise LoginFailed(error)
    return get_user(db, row["id"])


def login_failed_message(max_failures: int, lockout_minutes: int) -> Any:
    return _l(
        "Unknown user name or wrong password. After %(n)s wrong passwords in a row an account"
        " is locked for %(minutes)s minutes.",
        n=max_failures,
        minutes=lockout_minutes,
    )


def _login_row(db: Database, where: str, value: Any) -> dict | None:
    rows = list(
        db.query(
            "SELECT id, password_hash, active, failed_logins, locked_until FROM users"
            f" WHERE {where}",
            [value],
        )
    )
    return rows[0] if rows else None


def _record_attempt(
    db: Database,
    row: dict | None,
    checked_hash: str,
    correct: bool,
    max_failures: int,
    lockout_minutes: int,
) -> Any:
    """Count the attempt against the account; the message for a failure, None for success."""
    invalid = login_failed_message(max_failures, lockout_minutes)
    if row is None:  # deleted meanwhile (users are never deleted, but be safe)
        return invalid
    user_id = row["id"]
    locked = clock.parse_iso(row["locked_until"])
    if locked and locked > clock.now():
        return invalid
    if row["password_hash"] != checked_hash:
        # The password changed while this attempt was being checked: the check was against
        # the old one, so it proves nothing either way.
        return invalid
    if not correct:
        failures = row["failed_logins"] + 1
        lock = None
        if failures >= max_failures:
            lock = (clock.now() + timedelta(minutes=lockout_minutes)).replace(microsecond=0)
            failures = 0
            events.record(db, None, "user", user_id, "locked", note="too many failed logins")
        db.execute(
            "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
            [failures, lock.isoformat() if lock else None, user_id],
        )
        return invalid
    if not row["active"]:
        return _l("This account has been deactivated.")
    # The day of the last login, not the time: an admin (or a copy of the database) could
    # otherwise line up logins with the moment an anonymous session's counter moved.
    db.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
        [clock.today().isoformat(), user_id],
    )
    return None


@functools.cache
def _dummy_hash() -> str:
    return _hash("not-a-real-password")


def _hash(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)
