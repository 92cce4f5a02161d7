"""The nix-daemon systemd units (socket-activated), with a proxy drop-in when a proxy is set."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import atomic_write, read_bytes, sha256_bytes


UNITS = ("nix-daemon.socket", "nix-daemon.service")


def generated_unit(name: str, daemon_bin: str, state_dir: str = "/nix/var/nix",
                   store_dir: str = "/nix/store") -> str:
    """Unit files for a release that ships none (the same settings as Nix's own)."""
    if name.endswith(".socket"):
        return ("[Unit]\nDescription=Nix Daemon Socket\nBefore=multi-user.target\n"
                f"RequiresMountsFor={store_dir}\n"
                f"ConditionPathIsReadWrite={state_dir}/daemon-socket\n\n"
                f"[Socket]\nListenStream={state_dir}/daemon-socket/socket\n\n"
                "[Install]\nWantedBy=sockets.target\n")
    return ("[Unit]\nDescription=Nix Daemon\nDocumentation=man:nix-daemon https://nixos.org/manual\n"
            f"RequiresMountsFor={store_dir}\nRequiresMountsFor={state_dir}\n"
            f"ConditionPathIsReadWrite={state_dir}/daemon-socket\n\n"
            f"[Service]\nExecStart=@{daemon_bin} nix-daemon --daemon\nKillMode=process\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


def proxy_dropin(env: dict[str, str]) -> str:
    lines = ["[Service]"] + [f'Environment="{k}={v}"' for k, v in sorted(env.items())]
    return "\n".join(lines) + "\n"


@register
@dataclass
class SystemdUnits(Action):
    """nix-daemon.socket and .service in /etc/systemd/system, linked from the Nix profile (or
    generated when the release has none), a proxy drop-in when a proxy is set, then started."""

    kind = "systemd-units"
    needs_root = True
    unit_dir: str = "/etc/systemd/system"
    profile: str = "/nix/var/nix/profiles/default"
    proxy: dict[str, str] = field(default_factory=dict)
    start: bool = True
    systemctl: str = "systemctl"
    summary: str = ""

    @property
    def dropin(self) -> str:
        return f"{self.unit_dir}/nix-daemon.service.d/onboard-proxy.conf"

    def target(self) -> str:
        return f"{self.unit_dir}/nix-daemon.socket"

    def describe(self) -> str:
        what = "link and start" if self.start else "place"
        return self.summary or f"{what} the nix-daemon systemd units (socket-activated)"

    def paths(self) -> list[str]:
        out = [f"{self.unit_dir}/{u}" for u in UNITS]
        if self.proxy:
            out.append(self.dropin)
        if self.start:
            out.append(f"{self.unit_dir}/sockets.target.wants/nix-daemon.socket")
        return out

    def _wanted(self, unit: str) -> tuple[str, str]:
        """("link", source) when the profile ships the unit, else ("file", content)."""
        src = f"{self.profile}/lib/systemd/system/{unit}"
        if os.path.exists(src):
            return "link", src
        return "file", generated_unit(unit, f"{self.profile}/bin/nix-daemon")

    def _placed(self, unit: str) -> bool:
        dest = f"{self.unit_dir}/{unit}"
        how, what = self._wanted(unit)
        if how == "link":
            return os.path.islink(dest) and os.readlink(dest) == what
        return not os.path.islink(dest) and read_bytes(dest) == what.encode()

    def _active(self) -> bool:
        try:
            return subprocess.run([self.systemctl, "is-active", "--quiet", "nix-daemon.socket"],
                                  stdin=subprocess.DEVNULL, timeout=20).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    def check(self, ctx: Context) -> bool:
        if not all(self._placed(u) for u in UNITS):
            return False
        if self.proxy and read_bytes(self.dropin) != proxy_dropin(self.proxy).encode():
            return False
        return not self.start or self._active()

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        existed = {}
        for u in UNITS:
            dest = f"{self.unit_dir}/{u}"
            if os.path.lexists(dest) and not self._placed(u):
                raise ActionError(f"{dest} already exists; onboard will not replace another nix-daemon unit",
                                  hint="remove the other Nix install's units first, or use --mode skip")
            existed[u] = os.path.lexists(dest)
        if self.proxy and os.path.lexists(self.dropin) and \
                read_bytes(self.dropin) != proxy_dropin(self.proxy).encode():
            raise ActionError(f"{self.dropin} already exists", hint="move it aside and run again")
        return {"existed": existed, "dropin_dir_existed": os.path.isdir(os.path.dirname(self.dropin)),
                "unit_dir_existed": os.path.isdir(self.unit_dir)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        os.makedirs(self.unit_dir, exist_ok=True)
        for u in UNITS:
            dest = f"{self.unit_dir}/{u}"
            if self._placed(u):
                continue
            how, what = self._wanted(u)
            if how == "link":
                tmp = dest + ".onboard-tmp"
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(what, tmp)
                os.replace(tmp, dest)
            else:
                atomic_write(dest, what.encode(), mode=0o644)
            record.setdefault("placed", {})[u] = how
        if self.proxy:
            os.makedirs(os.path.dirname(self.dropin), exist_ok=True)
            atomic_write(self.dropin, proxy_dropin(self.proxy).encode(), mode=0o644)
        if self.start:
            ctx.run([self.systemctl, "daemon-reload"])
            ctx.run([self.systemctl, "enable", "nix-daemon.socket"])
            ctx.run([self.systemctl, "start", "nix-daemon.socket"])
            ctx.run([self.systemctl, "restart", "nix-daemon.service"], check=False)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "existed" not in record:
            return
        if self.start:
            ctx.run([self.systemctl, "disable", "--now", "nix-daemon.socket"], check=False)
            ctx.run([self.systemctl, "stop", "nix-daemon.service"], check=False)
        for u in UNITS:
            dest = f"{self.unit_dir}/{u}"
            if record["existed"].get(u) or not os.path.lexists(dest):
                continue
            how, what = self._wanted(u)
            if os.path.islink(dest) or sha256_bytes(read_bytes(dest) or b"") == sha256_bytes(what.encode()) \
                    or (read_bytes(dest) or b"").startswith(b"[Unit]\nDescription=Nix Daemon"):
                os.unlink(dest)
            else:
                ctx.notice(f"kept {dest}: it was changed after onboard wrote it")
        if self.proxy and os.path.lexists(self.dropin):
            os.unlink(self.dropin)
        if not record.get("dropin_dir_existed"):
            try:
                os.rmdir(os.path.dirname(self.dropin))
            except OSError:
                pass
        if not record.get("unit_dir_existed"):
            try:
                os.rmdir(self.unit_dir)
            except OSError:
                pass
        if self.start:
            ctx.run([self.systemctl, "daemon-reload"], check=False)
