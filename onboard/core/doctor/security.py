"""SELinux: enforcing mode stops systemd from using unit files that live in /nix/store."""

from __future__ import annotations

from onboard.core import machine
from onboard.core.doctor.model import Check, CheckResult, Inputs, check


@check("selinux", "SELinux")
def check_selinux(c: Check, inp: Inputs) -> CheckResult:
    mode = machine.selinux_mode(inp.sys_root, inp.etc_root)
    if mode == "enforcing":
        return c.result("warn", "SELinux is enforcing: systemd may refuse nix-daemon units in /nix/store",
                        "choose single-user mode, or run `sudo restorecon -RF /nix` after a daemon install",
                        mode=mode)
    if mode == "permissive":
        return c.result("ok", "SELinux is permissive: denials are logged, not enforced", mode=mode)
    if mode == "disabled":
        return c.result("ok", "SELinux is disabled", mode=mode)
    return c.result("ok", "no SELinux", mode=mode)
