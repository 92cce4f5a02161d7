"""The login shell and the rc files onboard would hook into."""

from __future__ import annotations

import os
from typing import Any

from onboard.core.doctor.model import Check, CheckResult, Inputs, check

HOOKED = ("bash", "zsh", "fish")


def rc_files(shell: str, home: str, env: dict[str, str]) -> list[str]:
    """The startup files of `shell` that onboard may edit, in the order the shell reads them."""
    if shell == "bash":
        return [os.path.join(home, n) for n in (".bash_profile", ".bash_login", ".profile", ".bashrc")]
    if shell == "zsh":
        zdot = env.get("ZDOTDIR") or home
        return [os.path.join(zdot, n) for n in (".zshenv", ".zprofile", ".zshrc")]
    if shell == "fish":
        xdg = env.get("XDG_CONFIG_HOME")
        base = xdg if xdg and os.path.isabs(xdg) else os.path.join(home, ".config")
        return [os.path.join(base, "fish", "config.fish"), os.path.join(base, "fish", "conf.d")]
    return []


def describe_rc(path: str) -> dict:
    info: dict = {"path": path, "exists": os.path.lexists(path)}
    if not info["exists"]:
        parent = os.path.dirname(path)
        probe = parent
        while not os.path.exists(probe) and os.path.dirname(probe) != probe:
            probe = os.path.dirname(probe)
        info["writable"] = os.access(probe, os.W_OK)
        return info
    if os.path.islink(path):
        info["symlink_to"] = os.path.realpath(path)
        if not os.path.exists(path):
            info["dangling"] = True
            info["writable"] = False
            return info
    info["writable"] = os.access(path, os.W_OK)
    if os.path.isfile(path):
        try:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except OSError:
            info["readable"] = False
            return info
        info["crlf"] = b"\r\n" in head
        info["final_newline"] = head.endswith(b"\n") or not head
    return info


@check("shell", "Login shell and rc files")
def check_shell(c: Check, inp: Inputs) -> CheckResult:
    from onboard.core import machine

    env = inp.environ()
    shell_path = inp.shell if inp.shell is not None else machine.login_shell()
    name = os.path.basename(shell_path) if shell_path else ""
    if name not in HOOKED:
        shown = shell_path or "none"
        return c.result("warn", f"login shell {shown}: onboard hooks bash, zsh and fish only",
                        "switch with `chsh -s /bin/bash` (or zsh/fish), or load the environment "
                        "with `onboard shell`", shell=shell_path, name=name, rc_files=[])
    files = [describe_rc(p) for p in rc_files(name, inp.home_dir(), env)]
    home = inp.home_dir()

    def short(p: str) -> str:
        return "~" + p[len(home):] if home and p.startswith(home.rstrip("/") + "/") else p

    present = [f for f in files if f["exists"]]
    blocked = [f for f in files if f.get("dangling") or (f["exists"] and not f.get("writable", True))
               or f.get("readable") is False]
    details: dict[str, Any] = {"shell": shell_path, "name": name, "rc_files": files}
    listed = ", ".join(short(f["path"]) + (" -> " + short(f["symlink_to"]) if f.get("symlink_to") else "")
                       for f in present) or "none yet"
    if blocked:
        which = ", ".join(short(f["path"]) for f in blocked)
        return c.result("warn", f"{name}: cannot edit {which}",
                        f"fix the permissions or the broken symlink of {which}", **details)
    if not present and not all(f.get("writable") for f in files):
        return c.result("warn", f"{name}: no rc file and the home directory is not writable",
                        f"make {home} writable", **details)
    return c.result("ok", f"{name}; rc files: {listed}", **details)
