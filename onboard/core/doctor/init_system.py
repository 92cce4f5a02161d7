"""The init system: systemd can run nix-daemon as a service; without one, single-user mode."""

from __future__ import annotations

from onboard.core.doctor.model import Check, CheckResult, Inputs, check


@check("init", "Init system")
def check_init(c: Check, inp: Inputs) -> CheckResult:
    init = inp.init()
    if init == "systemd":
        return c.result("ok", "systemd: daemon mode can run nix-daemon as a service", init=init)
    where = inp.container()
    where_text = f" (in a {where} container)" if where else (" (WSL without systemd)" if inp.wsl() else "")
    if init == "other":
        return c.result("warn", "not systemd: onboard cannot start nix-daemon as a service here",
                        "use `--mode single`, or `--mode daemon --init none` and start nix-daemon "
                        "from your init system",
                        init=init)
    fix = "use `--mode single` (onboard recommends it here)"
    if inp.wsl():
        fix += ", or enable systemd: `[boot] systemd=true` in /etc/wsl.conf, then `wsl --shutdown`"
    return c.result("warn", f"no init system to run services{where_text}", fix, init=init, container=where)
