"""Where in the profile a failure comes from: Nix's error text mapped back to `file:line`.

Nix reports errors against the rendered flake.nix / shell.nix, which nobody edits. The
names in its message (a missing attribute, an undefined variable, an unfree package) are
looked up in the profile's own files (the extends chain, child first); anything else
points at the file's package-set pin, the line that decides what Nix evaluates.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onboard.core.profiles.model import Profile

_NAMES = (
    re.compile(r"attribute '([^']+)' missing"),
    re.compile(r"undefined variable '([^']+)'"),
    re.compile(r"Package ‘([^’]+)’"),
    re.compile(r"Package '([^']+)'"),
    re.compile(r"anonymous function at .* called without required argument '([^']+)'"),
)


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().split("\n")
    except OSError:
        return []


def _find(files: list[str], word: str) -> str:
    pat = re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(word) + r"(?![A-Za-z0-9_-])")
    for f in files:
        for i, line in enumerate(_lines(f), 1):
            if not line.lstrip().startswith("#") and pat.search(line):
                return f"{f}:{i}"
    return ""


def locate(profile: Profile, text: str) -> str:
    """`file:line` in the profile for a failure whose message is `text` ("" when the
    profile has no file)."""
    files = [f for f in (profile.sources or [profile.path]) if f]
    if not files:
        return ""
    for pat in _NAMES:
        for m in pat.finditer(text):
            name = m.group(1)
            for word in (name, name.split(".")[-1], re.sub(r"-[0-9][^-]*$", "", name)):
                where = _find(files, word)
                if where:
                    return where
    if "requirements" in text and profile.python and profile.python.requirements:
        return f"{profile.python.requirements}:1"
    for f in files:
        for i, line in enumerate(_lines(f), 1):
            if re.match(r"nixpkgs\s*:", line):
                return f"{f}:{i}"
    return f"{files[0]}:1"


__all__ = ["locate"]
