"""WSL and containers: where Nix runs without an init system or with WSL1's limits."""

from __future__ import annotations

from onboard.core.doctor.model import Check, CheckResult, Inputs, check


@check("wsl", "WSL")
def check_wsl(c: Check, inp: Inputs) -> CheckResult:
    version = inp.wsl()
    if version == 0:
        return c.result("ok", "not WSL", version=0)
    if version == 1:
        return c.result("fail", "WSL1: Nix does not work on it",
                        "convert the distribution with `wsl --set-version <distro> 2` in Windows", version=1)
    if inp.init() == "systemd":
        return c.result("ok", "WSL2 with systemd", version=2, systemd=True)
    return c.result("warn", "WSL2 without systemd: no service to run nix-daemon",
                    "use `--mode single`, or add `[boot] systemd=true` to /etc/wsl.conf and "
                    "run `wsl --shutdown`", version=2, systemd=False)


@check("container", "Container")
def check_container(c: Check, inp: Inputs) -> CheckResult:
    kind = inp.container()
    if not kind:
        return c.result("ok", "not in a container", kind="")
    if inp.init() == "systemd":
        return c.result("ok", f"in a {kind} container with systemd", kind=kind, systemd=True)
    return c.result("warn", f"in a {kind} container without an init system",
                    "use `--mode single` (or `--mode daemon --init none` and start nix-daemon yourself); "
                    "mount a volume at /nix to keep the store",
                    kind=kind, systemd=False)
