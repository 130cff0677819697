"""docs/security.md names a real test on every line of its tables."""

import ast
import re

from audit.config import ROOT

SECURITY = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def _tests_in(filename: str) -> set[str]:
    tree = ast.parse((ROOT / "tests" / filename).read_text())
    return {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    }


def test_every_threat_names_a_test_that_exists():
    rows = [
        line
        for line in SECURITY.read_text().splitlines()
        if line.startswith("|") and not line.startswith(("| threat", "| ---"))
    ]
    assert len(rows) >= 30
    for row in rows:
        references = REFERENCE.findall(row)
        assert references, f"no test named for: {row[:80]}"
        for filename, name in references:
            assert name in _tests_in(filename), f"{filename}::{name} does not exist"
