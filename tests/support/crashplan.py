"""A plan applied in a real subprocess that SIGKILLs itself at a chosen event.

usage: python -m tests.support.crashplan ROOT apply|revert [KILL_KIND KILL_INDEX]
KILL_KIND is an event kind (action-started, log, action-finished); the process kills
itself with SIGKILL when it sees the KILL_INDEX-th (0-based) event of that kind.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.commands import RunCommand
from onboard.core.actions.files import EnsureDirectory, Symlink, WriteFile
from onboard.core.engine.plan import Plan, apply_plan, revert_receipt
from onboard.core.engine.receipt import load_receipt


def build(root: Path) -> Plan:
    return Plan("crash", [
        EnsureDirectory(path=str(root / "opt" / "tool")),
        WriteFile(path=str(root / "opt" / "tool" / "conf"), content="a=1\n"),
        MarkedBlock(path=str(root / ".bashrc"), marker="nix", content="export NIX=1"),
        MarkedBlock(path=str(root / ".zshrc"), marker="nix", content="export NIX=1"),
        RunCommand(argv=["touch", str(root / "made-by-command")],
                   undo=["rm", "-f", str(root / "made-by-command")],
                   probe=["test", "-e", str(root / "made-by-command")], ident="touch"),
        Symlink(path=str(root / "bin-link"), points_to="/opt/tool/bin"),
        WriteFile(path=str(root / "etc.conf"), content="replaced\n"),
    ])


def main() -> int:
    root = Path(sys.argv[1])
    what = sys.argv[2]
    kill_kind = sys.argv[3] if len(sys.argv) > 3 else ""
    kill_index = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    seen = {"n": 0}

    def emit(event) -> None:
        if event.kind == kill_kind:
            if seen["n"] == kill_index:
                os.kill(os.getpid(), signal.SIGKILL)
            seen["n"] += 1

    if what == "apply":
        return 0 if apply_plan(build(root), emit=emit).ok else 1
    r = load_receipt("crash")
    if r is None:
        return 0
    return 0 if revert_receipt(r, emit=emit).ok else 1


if __name__ == "__main__":
    sys.exit(main())
