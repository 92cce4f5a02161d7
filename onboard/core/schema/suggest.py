"""Did-you-mean: the closest of the allowed words to a mistyped one."""

from __future__ import annotations

import difflib
import re
from typing import Iterable, Optional

__all__ = ["did_you_mean", "suffix"]


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> Optional[str]:
    """The closest candidate, or None. A case-only difference always matches."""
    cands = [c for c in candidates if isinstance(c, str)]
    lower = word.lower()
    for c in cands:
        if c.lower() == lower and c != word:
            return c
    for c in cands:  # snake_case vs camelCase vs kebab-case: shell_hook -> shellHook
        if _squash(c) == _squash(word) and c != word:
            return c
    match = difflib.get_close_matches(word, cands, n=1, cutoff=cutoff)
    return match[0] if match else None


def _squash(s: str) -> str:
    return re.sub(r"[-_]", "", s).lower()


def suffix(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """"; did you mean `x`?" or ""."""
    m = did_you_mean(word, candidates, cutoff)
    return f"; did you mean `{m}`?" if m else ""
