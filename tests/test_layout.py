"""The package shows its parts, and imports go one way: each layer uses only the ones below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from audit.config import ROOT

PACKAGE = ROOT / "audit"
# Lowest first. A module may import its own layer and the layers below it, never one above.
LAYERS = {
    "audit.core": 0,
    "audit.config": 0,
    "audit.store": 1,
    "audit.domain": 2,
    "audit.xlsx": 3,
    "audit.access": 4,
    "audit.i18n": 4,
    "audit.ratelimit": 4,
    "audit.web": 4,
    "audit.views": 4,
    "audit.demo": 5,
    "audit.cli": 5,
    "audit.catalogs": 5,
    "audit": 5,  # audit/__init__.py: create_app() puts it all together
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    while module not in LAYERS:
        module = module.rpartition(".")[0]
    return LAYERS[module]


def _imports(path: Path) -> set[str]:
    """The audit modules a file imports (``from audit import x`` counts as ``audit.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("audit"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("audit"):
            base = node.module
            found.update(f"{base}.{a.name}" if base == "audit" else base for a in node.names)
    return found


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "translations" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_go_one_way(path):
    mine = _layer(_name(path))
    upward = sorted(m for m in _imports(path) if _layer(m) > mine)
    assert upward == [], f"{_name(path)} (layer {mine}) imports from above"


def test_the_package_is_grouped():
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 10, flat
    for package in ("core", "store", "domain", "xlsx", "views"):
        assert (PACKAGE / package / "__init__.py").is_file(), package


def test_the_layer_check_sees_an_upward_import(tmp_path):
    domain = tmp_path / "audit" / "domain"
    domain.mkdir(parents=True)
    wrong = domain / "wrong.py"
    wrong.write_text("from audit.views import rules\nfrom audit import web\n")
    assert _imports(wrong) == {"audit.views", "audit.web"}
    assert all(_layer(m) > _layer("audit.domain.wrong") for m in _imports(wrong))
