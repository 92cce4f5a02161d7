"""Run `onboard ARGS` and SIGKILL its process group the moment it has spawned nix-daemon: after
the spawn, before anything recorded the daemon's pid (no pid file, no pid in the receipt).

usage: python -m tests.support.install_killat ARGS...
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
from typing import Any

_real_init = subprocess.Popen.__init__


def _init(self: subprocess.Popen, args: Any, *rest: Any, **kw: Any) -> None:
    _real_init(self, args, *rest, **kw)
    argv0 = args[0] if isinstance(args, (list, tuple)) else args
    if str(argv0).endswith("/nix-daemon"):
        os.killpg(os.getpgrp(), signal.SIGKILL)


subprocess.Popen.__init__ = _init  # type: ignore[method-assign]
sys.argv = ["onboard", *sys.argv[1:]]
runpy.run_module("onboard", run_name="__main__", alter_sys=True)
