"""Root or passwordless sudo: daemon mode needs root once, single-user mode does not."""

from __future__ import annotations

import os
import shutil
import subprocess

from onboard.core.doctor.model import Check, CheckResult, Inputs, check


def _sudo_state(timeout: float) -> str:
    """"nopasswd", "password" (sudo exists but would ask) or "none"."""
    sudo = shutil.which("sudo")
    if not sudo:
        return "none"
    try:
        rc = subprocess.run([sudo, "-n", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=timeout).returncode
    except (OSError, subprocess.SubprocessError):
        return "password"
    return "nopasswd" if rc == 0 else "password"


@check("privileges", "Root or sudo")
def check_privileges(c: Check, inp: Inputs) -> CheckResult:
    root = inp.root_user if inp.root_user is not None else os.geteuid() == 0
    if root:
        return c.result("ok", "running as root", root=True, sudo=True)
    if inp.sudo is not None:
        state = "nopasswd" if inp.sudo else "none"
    else:
        state = _sudo_state(timeout=1.0)
    if state == "nopasswd":
        return c.result("ok", "passwordless sudo works", root=False, sudo=True)
    if state == "password":
        return c.result("warn", "sudo asks for a password",
                        "daemon mode will ask for your password once; single-user mode needs no root",
                        root=False, sudo=False, sudo_installed=True)
    return c.result("warn", "no root and no sudo: only single-user mode is possible",
                    "choose single-user mode, or ask an administrator for sudo rights",
                    root=False, sudo=False, sudo_installed=False)
