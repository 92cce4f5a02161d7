"""The stand-in `lorri` (see lorri.py): put it on PATH with `install(bin_dir)`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

LORRI_PY = Path(__file__).resolve().parent / "lorri.py"


def install(bin_dir: Path) -> Path:
    """Write an executable `lorri` into `bin_dir` that runs the stand-in; return its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "lorri"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{LORRI_PY}" "$@"\n')
    os.chmod(exe, 0o755)
    return exe
