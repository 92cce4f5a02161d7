"""The ways onboard can leave Nix on a machine, and the init systems a daemon can run under.

One registry each, read by the choices, the team config, the command line, doctor and the
terminal UI.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    id: str
    label: str  # short, for lists
    summary: str  # one plain sentence
    installs: bool = True  # False: Nix is left as it is
    team: bool = True  # a team config may ask for it


MODES: tuple[Mode, ...] = (
    Mode("single", "single-user", "Nix owned by you, no daemon and no root needed after the install"),
    Mode("daemon", "multi-user (daemon)", "a root-owned store with nix-daemon and build users, as "
                                          "on shared machines"),
    Mode("skip", "leave Nix as it is", "install no Nix: use the one already here, or none",
         installs=False, team=False),
)

MODE_IDS: tuple[str, ...] = tuple(m.id for m in MODES)
TEAM_MODE_IDS: tuple[str, ...] = tuple(m.id for m in MODES if m.team)


@dataclass(frozen=True)
class Init:
    id: str
    summary: str


INITS: tuple[Init, ...] = (
    Init("auto", "systemd when it runs as PID 1, else onboard starts nix-daemon itself"),
    Init("systemd", "socket and service units linked into systemd"),
    Init("none", "no init system (containers): onboard starts nix-daemon itself"),
)

INIT_IDS: tuple[str, ...] = tuple(i.id for i in INITS)


def mode_label(mode_id: str) -> str:
    return next((m.label for m in MODES if m.id == mode_id), mode_id)


__all__ = ["Mode", "MODES", "MODE_IDS", "TEAM_MODE_IDS", "Init", "INITS", "INIT_IDS", "mode_label"]
