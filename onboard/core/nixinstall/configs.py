"""The configuration a Nix install writes: the shell rc blocks that put Nix on PATH, nix.conf's
lines (with the team's substituters and keys) and the unfree packages in nixpkgs' config.nix.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.blocks import remove_block
from onboard.core.nixinstall.actions.common import writable_problem
from onboard.core.nixinstall.actions.nixpkgs_config import NixpkgsConfig, nixpkgs_config_problem
from onboard.core.nixinstall.actions.shell_rc_block import ShellRcBlock
from onboard.core.nixinstall.errors import PlanningError
from onboard.core.nixinstall.versions import load_table

BUILD_GROUP = "nixbld"
RC_MARKER = "nix"
UNFREE_ALL = ("all", "*")
_SUBST_RE = re.compile(r"^(https?|s3|file|ssh|ssh-ng)://[^\s]+$")
_KEY_RE = re.compile(r"^[A-Za-z0-9._-]+(-\d+)?:[A-Za-z0-9+/=]+$")
_PKG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


@dataclass
class NixSettings:
    """Team settings for nix.conf (from the team's config)."""

    substituters: list[str] = field(default_factory=list)
    trusted_public_keys: list[str] = field(default_factory=list)


def team_settings(table: Optional[dict[str, Any]] = None) -> NixSettings:
    """nix.conf settings a team file adds (the "nix_conf" object of ONBOARD_NIX_VERSIONS' file)."""
    table = table if table is not None else load_table()
    conf = table.get("nix_conf") or {}
    return NixSettings(substituters=list(conf.get("substituters", [])),
                       trusted_public_keys=list(conf.get("trusted-public-keys", [])))


SINGLE_SH = """\
if [ -e "$HOME/.nix-profile/etc/profile.d/nix.sh" ]; then
  . "$HOME/.nix-profile/etc/profile.d/nix.sh"
elif [ -d "$HOME/.nix-profile/bin" ]; then
  case ":$PATH:" in *":$HOME/.nix-profile/bin:"*) ;; *) export PATH="$HOME/.nix-profile/bin:$PATH" ;; esac
fi"""

SINGLE_FISH = """\
if test -e "$HOME/.nix-profile/etc/profile.d/nix.fish"
    source "$HOME/.nix-profile/etc/profile.d/nix.fish"
else if test -d "$HOME/.nix-profile/bin"; and not contains -- "$HOME/.nix-profile/bin" $PATH
    set -gx PATH "$HOME/.nix-profile/bin" $PATH
end"""

DAEMON_SH = """\
if [ -e /nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh ]; then
  . /nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh
elif [ -d /nix/var/nix/profiles/default/bin ]; then
  case ":$PATH:" in *":/nix/var/nix/profiles/default/bin:"*) ;; *) export PATH="$HOME/.nix-profile/bin:/nix/var/nix/profiles/default/bin:$PATH" ;; esac
fi"""

DAEMON_FISH = """\
if test -e /nix/var/nix/profiles/default/etc/profile.d/nix-daemon.fish
    source /nix/var/nix/profiles/default/etc/profile.d/nix-daemon.fish
else if test -d /nix/var/nix/profiles/default/bin; and not contains -- /nix/var/nix/profiles/default/bin $PATH
    set -gx PATH "$HOME/.nix-profile/bin" /nix/var/nix/profiles/default/bin $PATH
end"""


def _have(cmd: str, environ: dict[str, str]) -> bool:
    return shutil.which(cmd, path=environ.get("PATH")) is not None


def single_rc_targets(home: str, environ: dict[str, str]) -> list[tuple[str, str]]:
    """(path, shell) for a single-user install: the login file bash reads, zsh, fish."""
    h = Path(home)
    out = []
    for name in (".bash_profile", ".bash_login", ".profile"):
        if os.path.lexists(h / name):
            out.append((str(h / name), "sh"))
            break
    else:
        out.append((str(h / ".profile"), "sh"))
    if _have("zsh", environ) or os.path.lexists(h / ".zshenv") or os.path.lexists(h / ".zshrc"):
        out.append((str(h / ".zshenv"), "sh"))
    fish_dir = Path(environ.get("XDG_CONFIG_HOME") or h / ".config") / "fish"
    if _have("fish", environ) or fish_dir.is_dir():
        out.append((str(fish_dir / "conf.d" / "nix.fish"), "fish"))
    return out


def daemon_rc_targets(etc: str = "/etc") -> list[tuple[str, str]]:
    """(path, shell) for a daemon install: the system-wide startup files that exist here."""
    out = []
    for rel in ("bashrc", "bash.bashrc", "zshrc", "zsh/zshrc"):
        if os.path.isfile(os.path.join(etc, rel)):
            out.append((os.path.join(etc, rel), "sh"))
    if os.path.isdir(os.path.join(etc, "profile.d")):
        out.append((os.path.join(etc, "profile.d", "nix.sh"), "sh"))
    if os.path.isdir(os.path.join(etc, "fish")):
        out.append((os.path.join(etc, "fish", "conf.d", "nix.fish"), "fish"))
    return out


def rc_actions(targets: list[tuple[str, str]], daemon: bool, owner: str) -> list[ShellRcBlock]:
    out = []
    for path, shell in targets:
        content = (DAEMON_FISH if shell == "fish" else DAEMON_SH) if daemon else \
            (SINGLE_FISH if shell == "fish" else SINGLE_SH)
        out.append(ShellRcBlock(path=path, marker=RC_MARKER, content=content,
                                position="prepend" if daemon and shell == "sh" else "append",
                                mode=0o644, owner=owner, summary=f"put Nix on PATH in {path}"))
    return out


def nix_conf_lines(daemon: bool, settings: NixSettings, root_single: bool = False) -> list[str]:
    lines = []
    if daemon:
        lines.append(f"build-users-group = {BUILD_GROUP}")
    elif root_single:
        lines.append("build-users-group =")  # root's single-user Nix builds as root, without build users
    lines.append("experimental-features = nix-command flakes")
    for s in settings.substituters:
        if not _SUBST_RE.match(s):
            raise PlanningError(f"substituter {s!r} is not a URL", hint="fix the team's nix_conf substituters")
    for k in settings.trusted_public_keys:
        if not _KEY_RE.match(k):
            raise PlanningError(f"trusted public key {k!r} is not of the form name:base64",
                                hint="fix the team's nix_conf trusted-public-keys")
    if settings.substituters:
        lines.append("extra-substituters = " + " ".join(settings.substituters))
    if settings.trusted_public_keys:
        lines.append("extra-trusted-public-keys = " + " ".join(settings.trusted_public_keys))
    return lines


def unfree_lines(allow: list[str]) -> list[str]:
    if not allow:
        return []
    if any(a in UNFREE_ALL for a in allow):
        return ["allowUnfree = true;"]
    bad = [a for a in allow if not _PKG_RE.match(a)]
    if bad:
        raise PlanningError(f"not a package name: {', '.join(bad)}", hint="--allow-unfree takes names such as "
                                                                          "vscode,slack (or all)")
    names = " ".join(f'"{a}"' for a in allow)
    return [f"allowUnfreePredicate = pkg: builtins.elem (pkg.pname or (builtins.parseDrvName pkg.name).name) "
            f"[ {names} ];"]


def nixpkgs_config_path(home: str) -> str:
    new = Path(home) / ".config" / "nixpkgs" / "config.nix"
    legacy = Path(home) / ".nixpkgs" / "config.nix"
    if not new.exists() and legacy.exists():
        return str(legacy)  # nixpkgs reads the legacy file when the new one is absent
    return str(new)


def nixpkgs_action(allow: list[str], home: str, owner: str) -> Optional[NixpkgsConfig]:
    lines = unfree_lines(allow)
    if not lines:
        return None
    path = nixpkgs_config_path(home)
    problem = writable_problem(path)
    if problem:
        raise PlanningError(f"onboard will not edit {path}: {problem}", hint=f"make it writable and run again")
    if os.path.exists(path):
        text = remove_block(Path(path).read_text(errors="replace"), "nix-unfree")
        problem = nixpkgs_config_problem(text)
        if problem:
            raise PlanningError(f"onboard will not change {path}: {problem}",
                                hint="add this line to it yourself, or remove the conflicting setting and "
                                     "run again:\n    " + "\n    ".join(lines))
    what = "all unfree packages" if lines[0].startswith("allowUnfree ") else "unfree: " + ", ".join(allow)
    return NixpkgsConfig(path=path, lines=lines, owner=owner, summary=f"allow {what} in {path}")
