"""lorri mode: the project's .envrc runs `lorri direnv` (through `use onboard --lorri NAME`
for a profile), and `lorri daemon` keeps the shell built in the background (a systemd user
service started by its socket, as lorri documents; without systemd the plan says how to
start the daemon by hand).

How lorri reports a failed build: the daemon logs it, keeps the previous evaluation's GC
root (so `lorri direnv` goes on loading the last good environment, silently), and sends a
`Failure` event for the file to `lorri internal stream-events` (`--kind snapshot` gives
the latest event of each file). onboard's library reads that event and says so, with
ONBOARD_ENV_STALE=1 (or refuses, with ONBOARD_NO_FALLBACK=1 / CI). Tested against the
stand-in in tests/support/fake_lorri, which answers the same commands.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Optional

from onboard.core import paths
from onboard.core.engine.action import Action
from onboard.core.integrations.actions.plan_note import PlanNote
from onboard.core.integrations.actions.systemd_user_units import SystemdUserUnits

Which = Callable[[str], Optional[str]]

SOCKET_UNIT = "lorri.socket"
SERVICE_UNIT = "lorri.service"


def unit_dir() -> Path:
    return paths.config_home() / "systemd" / "user"


def socket_unit() -> str:
    return "\n".join([
        "[Unit]",
        "Description=Socket of the lorri daemon (installed by onboard)",
        "",
        "[Socket]",
        "ListenStream=%t/lorri/daemon.socket",
        "RuntimeDirectory=lorri",
        "",
        "[Install]",
        "WantedBy=sockets.target",
        "",
    ])


def service_path(which: Which = shutil.which) -> str:
    """PATH for the daemon: user units do not get the login PATH, and lorri runs nix."""
    dirs: list[str] = []
    nix = which("nix")
    if nix:
        dirs.append(os.path.dirname(nix))
    home = str(paths.home())
    dirs += [f"{home}/.nix-profile/bin", "/nix/var/nix/profiles/default/bin", "/run/current-system/sw/bin",
             "/usr/local/bin", "/usr/bin", "/bin"]
    out: list[str] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return ":".join(out)


def service_unit(lorri: str, which: Which = shutil.which) -> str:
    return "\n".join([
        "[Unit]",
        "Description=lorri daemon: keeps project Nix shells built (installed by onboard)",
        f"Requires={SOCKET_UNIT}",
        f"After={SOCKET_UNIT}",
        "",
        "[Service]",
        f"ExecStart={lorri} daemon",
        f"Environment=\"PATH={service_path(which)}\"",
        "PrivateTmp=true",
        "ProtectSystem=full",
        "Restart=on-failure",
        "",
    ])


def service_actions(lorri: str, init: str, which: Which = shutil.which) -> list[Action]:
    """The user service where systemd runs, else a note on starting the daemon by hand."""
    if init == "systemd" and which("systemctl"):
        d = unit_dir()
        return [SystemdUserUnits(
            unit_dir=str(d), units={SOCKET_UNIT: socket_unit(), SERVICE_UNIT: service_unit(lorri, which)},
            enable=[SOCKET_UNIT],
            summary=f"run `lorri daemon` as a systemd user service started by its socket ({d})")]
    return [PlanNote(message="no systemd user manager runs here, so no lorri service was installed: "
                             "start `lorri daemon` yourself (in a terminal you keep open, or from "
                             "your session's startup) so shells are rebuilt when they change")]


def shell_file_for(project: str, profile: str) -> str:
    """What lorri evaluates: the project's own shell.nix when it has one (""), else the
    profile rendered by onboard into this project's cache (lorri.nix: the rendered
    shell.nix with onboard's package set, ONBOARD_NIXPKGS_OVERRIDE included). The .envrc
    then says `use onboard --lorri NAME`: the direnv library renders that file (no build)
    before lorri first sees it, re-renders it when a real input changes (the profile, its
    extends chain, its requirements file), and marks a failed lorri build stale."""
    if (Path(project) / "shell.nix").exists() or not profile:
        return ""
    from onboard.core import project as projects
    from onboard.core.profiles import cache
    from onboard.core.profiles.build import location

    root = projects.find_root(project) or os.path.realpath(project)  # the library's rule
    return os.path.join(location(profile, root), cache.LORRI_NIX)


__all__ = ["service_actions", "service_unit", "socket_unit", "shell_file_for", "unit_dir"]
