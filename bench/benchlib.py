"""What the bench scripts share: the checkout on sys.path, the offline Nix settings and pin of
the tests (tests/support/standin.py), and an interpreter where onboard is installed as a
package rather than this checkout's editable install (whose import finder every start pays)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.standin import NIX_CONFIG, PIN, STANDIN  # noqa: E402

NIX = ["nix", "--extra-experimental-features", "nix-command"]


def installed_python(venv: Path) -> str:
    """The interpreter of a new venv where onboard is a package in site-packages (a link to
    this checkout's directory) and its dependencies come from this venv's site-packages (a
    path in a .pth file: added to sys.path, its own .pth files, the editable finder's among
    them, not run)."""
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    os.symlink(ROOT / "onboard", site / "onboard")
    (site / "onboard-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return str(venv / "bin" / "python")


__all__ = ["ROOT", "NIX_CONFIG", "PIN", "STANDIN", "NIX", "installed_python"]
