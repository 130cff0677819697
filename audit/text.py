"""Text helpers for search: one folding for what is stored and what is asked."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str:
    """Lower case without accents, so "Hygiëne" and "hygiene" are the same word."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def like_pattern(word: str) -> str:
    """A LIKE pattern matching ``word`` anywhere, with LIKE's wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
