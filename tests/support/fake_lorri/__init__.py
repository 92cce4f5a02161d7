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


def install_systemctl(bin_dir: Path, log: Path) -> Path:
    """A `systemctl` that logs its arguments and remembers `enable`d units (no systemd runs
    as PID 1 on the test machines): enough to check what onboard asks of systemd."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state = log.with_suffix(".enabled")
    exe = bin_dir / "systemctl"
    exe.write_text(f"""#!/bin/sh
echo "$*" >> "{log}"
[ "$1" = --user ] && shift
case "$1" in
  enable) shift; for u in "$@"; do [ "$u" = --now ] || echo "$u" >> "{state}"; done ;;
  disable) shift; for u in "$@"; do [ -f "{state}" ] && grep -vx "$u" "{state}" > "{state}.tmp"; \
mv "{state}.tmp" "{state}" 2>/dev/null; done ;;
  is-enabled) grep -qx "$2" "{state}" 2>/dev/null ;;
esac
""")
    os.chmod(exe, 0o755)
    return exe
