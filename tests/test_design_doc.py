"""docs/design.md is the design the code cites: it exists, it agrees with the code, and no
comment cites a document outside the repository."""

from __future__ import annotations

import re

from flask_babel import force_locale

from audit.config import ROOT
from audit.domain import origins, vocabulary

DESIGN = ROOT / "docs" / "design.md"
OUTSIDE = "DESIGN" + ".md"  # split, so that this file does not find itself
SOURCES = [
    path
    for folder in ("audit", "tests", "benchmarks", "templates", "static", ".ci")
    for path in (ROOT / folder).rglob("*")
    if path.is_file() and path.suffix in {".py", ".html", ".css", ".md", ""}
]


def test_the_sources_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    expected = {
        "audit/store/schema.py",
        "audit/domain/origins.py",
        "tests/test_origins.py",
        ".ci/run",
    }
    assert expected <= names


def test_no_source_cites_a_design_outside_the_repository():
    problems = []
    for path in SOURCES:
        text = path.read_text(errors="replace")
        if OUTSIDE in text:
            problems.append(f"{path}: cites {OUTSIDE}; cite docs/design.md instead")
        for cited in re.findall(r"\bdocs/[\w./-]+\.md\b", text):
            if not (ROOT / cited).is_file():
                problems.append(f"{path}: cites {cited}, which does not exist")
    assert problems == []


def test_the_readme_links_the_design():
    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    assert "(docs/design.md)" in layout


def test_the_origin_table_agrees_with_the_code(app):
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|$", DESIGN.read_text(), re.M)
    with app.app_context(), force_locale("en"):
        expected = [
            (key, str(label), str(origins.GROUPS[origins.GROUP_OF[key]]))
            for key, label in origins.ORIGINS.items()
        ]
    assert [(key, label.strip(), group.strip()) for key, label, group in rows] == expected


def test_the_design_names_every_status_and_module():
    text = DESIGN.read_text()
    for status in vocabulary.STATUSES:
        assert f"`{status}`" in text, status
    # Every module, in any of the packages, by its name or its path.
    modules = sorted(
        p.relative_to(ROOT / "audit").with_suffix("").as_posix()
        for p in (ROOT / "audit").rglob("*.py")
        if p.stem != "__init__"
    )
    missing = [
        m
        for m in modules
        if not re.search(rf"`{m.rpartition('/')[2]}`|audit[/.]{re.escape(m)}\b", text)
    ]
    assert missing == [], "say in docs/design.md what these modules are for"
    packages = [p.parent.name for p in (ROOT / "audit").glob("*/__init__.py")]
    assert all(f"audit/{name}/" in text for name in packages), packages
