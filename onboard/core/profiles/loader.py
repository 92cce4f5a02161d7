"""Find and load team profiles: profiles/NAME.yaml, validated, extends chains merged.

Loading never writes anything anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from onboard.core.profiles.model import Profile

ENV_DIRS = "ONBOARD_PROFILES_DIR"


@dataclass
class Problem:
    """One thing wrong with a file, at a place in it (line and col are 1-based; 0 = unknown)."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.col:
                where += f":{self.col}"
        return f"{where}: {self.message}"


class ProfileError(Exception):
    """Every problem found, all at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class ProfileInfo:
    name: str
    path: str
    description: str = ""


def profile_dirs(start: Optional[Path] = None) -> list[Path]:
    """Where profiles are looked for, in order: each dir of $ONBOARD_PROFILES_DIR
    (os.pathsep-separated), then the first `profiles/` found in `start` (default: cwd)
    or one of its parents."""
    raise NotImplementedError


def list_profiles(dirs: Optional[list[Path]] = None) -> list[ProfileInfo]:
    raise NotImplementedError


def load_profile(name_or_path: str, dirs: Optional[list[Path]] = None) -> Profile:
    raise NotImplementedError
