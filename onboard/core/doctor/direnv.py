"""direnv (and lorri): how the environment follows the user into project directories."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from onboard.core.doctor.model import Check, CheckResult, Inputs, check


def _version(exe: str, arg: str) -> str:
    try:
        proc = subprocess.run([exe, arg], capture_output=True, text=True, timeout=1.0,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    words = (proc.stdout or proc.stderr).strip().split()
    return words[-1] if proc.returncode == 0 and words else ""


def _hooked_in(home: str) -> list[str]:
    found = []
    for name in (".bashrc", ".zshrc", ".config/fish/config.fish"):
        path = os.path.join(home, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                if "direnv hook" in fh.read(1 << 20):
                    found.append("~/" + name)
        except OSError:
            continue
    return found


@check("direnv", "direnv / lorri")
def check_direnv(c: Check, inp: Inputs) -> CheckResult:
    direnv = inp.which("direnv")
    lorri = inp.which("lorri")
    details: dict[str, Any] = {"direnv": direnv, "direnv_version": _version(direnv, "version") if direnv else "",
                               "lorri": lorri, "hooked_in": _hooked_in(inp.home_dir())}
    lorri_text = f"lorri at {lorri}" if lorri else "no lorri (direnv mode will be used)"
    if direnv:
        ver = f" {details['direnv_version']}" if details["direnv_version"] else ""
        hook = f", hooked in {', '.join(details['hooked_in'])}" if details["hooked_in"] else ""
        return c.result("ok", f"direnv{ver} at {direnv}{hook}; {lorri_text}", **details)
    if lorri:
        return c.result("warn", f"{lorri_text}, but no direnv: lorri needs direnv to load shells",
                        "install direnv (`sudo apt install direnv`) or let onboard add it", **details)
    return c.result("warn", "direnv not found: the shell will not load on `cd`",
                    "install direnv (`sudo apt install direnv`) or let onboard add it; "
                    "`onboard shell` works without it", **details)
