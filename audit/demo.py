"""A fictional Dutch nursing home, so every screen has something real to show.

Everything goes through the domain functions, exactly as a user's actions would.
"""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from audit import organisation, users
from audit.db import transaction
from audit.errors import AuditError

ORGANISATION = "Zorgcentrum De Lindehof"
LOCATIONS = ["Lindehof Noord", "Lindehof Zuid"]
TEAMS = {
    "Vlinder": "Lindehof Noord",  # psychogeriatrie
    "Zonnebloem": "Lindehof Noord",
    "Eikenhout": "Lindehof Zuid",
    "Waterlelie": "Lindehof Zuid",
}
# username, display name, role, teams
PEOPLE = [
    ("beheer", "Mark Jansen", "admin", []),
    ("kwaliteit", "Ilse de Vries", "quality", []),
    ("bestuur", "Henk Bakker", "viewer", []),
    ("anouk", "Anouk Visser", "member", ["Vlinder"]),
    ("daan", "Daan Smit", "member", ["Vlinder"]),
    ("fatima", "Fatima El Amrani", "member", ["Vlinder", "Zonnebloem"]),
    ("joost", "Joost Mulder", "member", ["Zonnebloem"]),
    ("sanne", "Sanne de Boer", "member", ["Zonnebloem"]),
    ("kees", "Kees van Dijk", "member", ["Eikenhout"]),
    ("lotte", "Lotte Meijer", "member", ["Eikenhout"]),
    ("noor", "Noor Hendriks", "member", ["Waterlelie"]),
    ("ruben", "Ruben de Graaf", "member", ["Waterlelie"]),
]


def seed(db: Database) -> list[tuple[str, str, str]]:
    """Load the demo into an empty database; return (username, role, password) per login."""
    if users.count_users(db):
        raise AuditError(
            _l("The database already has users; the demo loads only into an empty one.")
        )
    logins = []
    with transaction(db):
        organisation.update_settings(
            db, None, name=ORGANISATION, default_language="nl", reference_share=0.7
        )
        location_ids = {
            name: organisation.save_location(db, None, name)["id"] for name in LOCATIONS
        }
        team_ids = {
            name: organisation.save_team(db, None, name, location_ids[loc])["id"]
            for name, loc in TEAMS.items()
        }
        for username, display_name, role, teams in PEOPLE:
            password = secrets.token_urlsafe(9)
            users.create_user(
                db,
                None,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                team_ids=[team_ids[t] for t in teams],
            )
            logins.append((username, role, password))
    return logins
