"""Text helpers: one folding for what is stored and what is asked, and one way to say a text is
too long."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l

# The combining marks that accents decompose into (the Unicode blocks of combining
# diacritics): removed in one regular-expression pass rather than character by character.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str | None) -> str:
    """Lower case without accents, so "Hygiëne" and "hygiene" are the same word."""
    text = text or ""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return " ".join(text.casefold().split())


def like_pattern(word: str) -> str:
    """A LIKE pattern matching ``word`` anywhere, with LIKE's wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def blank(text: str | None) -> bool:
    """Nothing a reader would see. SQLite's length() stops at a NUL character, so text that
    starts with one counts as empty in the database too and must count as empty here."""
    return not (text or "").split("\x00", 1)[0].strip()


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def too_long(limit: int, length: int) -> str:
    """The message for text over its limit. Text is refused, never cut: the user sees how much
    too long it is and keeps all of it to shorten."""
    return _l(
        "At most %(n)s characters, and this text has %(count)s. Shorten it; nothing was cut.",
        n=limit,
        count=length,
    )
