"""The register's columns in Excel: one list shared by the export, the import and the template,
so an exported Register sheet imports again unchanged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    en: str
    nl: str
    width: int = 18
    importable: bool = True  # False: computed by the app, shown but ignored on import

    def header(self, lang: str) -> str:
        return self.nl if lang == "nl" else self.en


COLUMNS = (
    Column("code", "Code", "Code", 11),
    Column("title", "Title", "Titel", 40),
    Column("description", "Description", "Omschrijving", 50),
    Column("category", "Category", "Categorie", 24),
    Column("protocol", "Protocol", "Protocol", 24),
    Column("teams", "Teams", "Teams", 20),
    Column("locations", "Locations", "Locaties", 20),
    Column("perceived_origin", "Perceived origin", "Veronderstelde herkomst", 26),
    Column("verified_origin", "Verified origin", "Vastgestelde herkomst", 26),
    Column("source_reference", "Source reference", "Bronverwijzing", 26),
    Column("evidence_note", "Evidence", "Onderbouwing", 30),
    Column("minutes_per_week", "Minutes per week", "Minuten per week", 12),
    Column("relation_impact", "Relation impact", "Effect op relatie", 16),
    Column("values_touched", "Values touched", "Waarden", 24),
    Column("status", "Status", "Status", 16),
    Column("owner", "Owner", "Eigenaar", 18),
    Column("introduced_on", "Introduced on", "Ingevoerd op", 13),
    Column("review_due", "Review due", "Herzien voor", 13),
    Column("self_invented", "Self-invented", "Zelfbedacht", 12, importable=False),
    Column("myth", "Myth", "Mythe", 10, importable=False),
    Column("verified_by", "Verified by", "Vastgesteld door", 18, importable=False),
    Column("verified_on", "Verified on", "Vastgesteld op", 13, importable=False),
)

BY_KEY = {c.key: c for c in COLUMNS}


def normalise_header(text: object) -> str:
    """Headers match whatever their case and spacing."""
    return " ".join(str(text or "").split()).casefold()


# Every accepted header text (English or Dutch) -> column key.
HEADER_KEYS = {normalise_header(name): c.key for c in COLUMNS for name in (c.en, c.nl)}
