"""Choices -> the Plan that installs Nix (single-user or daemon mode), or adopts the Nix that is
already there. Everything that can be checked before changing anything is checked here and
raised as a PlanningError (nothing changed): a foreign /nix, id collisions, read-only rc files,
a config.nix onboard cannot merge, a missing SHA-256.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core import paths
from onboard.core.actions.files import Symlink
from onboard.core.actions.system import (BuildUsers, CreateGroup, DaemonProcess, SystemdUnits, getent,
                                         proxy_env, user_plan_problems)
from onboard.core.choices import Choices
from onboard.core.engine.plan import Plan
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.actions import (FetchTarball, LoadDb, NixConfBlock, NixpkgsConfig, NixProfile,
                                             NixTree, SelfTest, ShellRcBlock, StorePaths, UnpackRelease,
                                             _writable_problem, nixpkgs_config_problem)
from onboard.core.nixinstall.errors import PlanningError
from onboard.core.nixinstall.versions import (Release, current_system, known_release, load_table,
                                              lookup_sha256, parse_tarball_name)

BUILD_GROUP = "nixbld"
BUILD_GID = 30000
FIRST_UID = 30001
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


@dataclass
class MachineView:
    """What the planner needs to know about the machine (tests pass their own)."""

    existing: Any = None  # onboard.core.machine.NixFacts or None
    ours: bool = False  # onboard's receipt records this Nix install
    init: str = "none"  # systemd | other | none
    environ: dict[str, str] = field(default_factory=dict)


def team_settings(table: Optional[dict[str, Any]] = None) -> NixSettings:
    """nix.conf settings a team file adds (the "nix_conf" object of ONBOARD_NIX_VERSIONS' file)."""
    table = table if table is not None else load_table()
    conf = table.get("nix_conf") or {}
    return NixSettings(substituters=list(conf.get("substituters", [])),
                       trusted_public_keys=list(conf.get("trusted-public-keys", [])))


def machine_view() -> MachineView:
    existing = None
    try:
        from onboard.core.machine import existing_nix, init_system
    except ImportError:  # pragma: no cover
        init = "systemd" if os.path.isdir("/run/systemd/system") else "none"
    else:
        existing = existing_nix()
        init = init_system()
    return MachineView(existing=existing, ours=_ours(), init=init, environ=dict(os.environ))


def _ours() -> bool:
    """True when onboard's own receipt records this /nix (a re-run repairs it)."""
    from onboard.core.engine.receipt import list_receipts

    try:
        receipts = list_receipts()
    except Exception:  # a damaged receipt is reported by uninstall, not here
        return False
    return any(e.kind == "nix-tree" and e.owned for r in receipts for e in r.entries)


def _foreign(view: MachineView) -> bool:
    """A Nix that lives in /nix and is not onboard's: never overwritten."""
    facts = view.existing
    if facts is None or view.ours:
        return False
    if getattr(facts, "store_owner", ""):
        return True
    return any(os.path.realpath(b).startswith(layout.STORE + "/")
               for b in getattr(facts, "binaries", {}).values())


def _describe_existing(facts: Any) -> str:
    bits = [f"Nix {facts.version}" if getattr(facts, "version", "") else "a Nix install"]
    if getattr(facts, "mode", "") in ("single", "daemon"):
        bits.append(f"({facts.mode}-user)" if facts.mode == "single" else "(daemon mode)")
    if getattr(facts, "store_owner", ""):
        bits.append(f"with /nix/store owned by {facts.store_owner}")
    if getattr(facts, "source", "") not in ("", "unknown"):
        bits.append(f"from {facts.source}")
    return " ".join(bits)


# -- the release ------------------------------------------------------------------------------


def resolve_release(choices: Choices, table: Optional[dict[str, Any]] = None) -> Release:
    table = table or load_table()
    src = choices.tarball
    if not src:
        rel = known_release(choices.nix_version, table=table)
        if choices.sha256 and choices.sha256 != rel.sha256:
            rel = Release(rel.version, rel.system, rel.url, choices.sha256.lower(), 0)
        return rel
    if src.startswith("file://"):
        src = src[len("file://"):]
    is_url = bool(re.match(r"^https?://", src))
    name = src.rstrip("/").rsplit("/", 1)[-1]
    version, system = parse_tarball_name(name)
    sha = (choices.sha256 or lookup_sha256(name, table)).lower()
    if not sha:
        raise PlanningError(f"onboard does not know the SHA-256 of {name}",
                            hint="pass --sha256 with the 64 hex digits published next to the tarball "
                                 "(nothing is unpacked before it matches)")
    if system and system != current_system():
        raise PlanningError(f"{name} is for {system}, but this machine is {current_system()}",
                            hint=f"use the tarball for {current_system()}")
    if is_url:
        return Release(version=version, system=system or current_system(), url=src, sha256=sha)
    path = Path(src).expanduser()
    if not path.is_file():
        raise PlanningError(f"{src}: no such file", hint="give the path of a nix-VERSION-SYSTEM.tar.xz file "
                                                           "or its URL")
    return Release(version=version, system=system or current_system(), url="", sha256=sha,
                   path=str(path.resolve()))


# -- shell rc blocks ---------------------------------------------------------------------------

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


def _rc_actions(targets: list[tuple[str, str]], daemon: bool, owner: str) -> list[ShellRcBlock]:
    out = []
    for path, shell in targets:
        content = (DAEMON_FISH if shell == "fish" else DAEMON_SH) if daemon else \
            (SINGLE_FISH if shell == "fish" else SINGLE_SH)
        out.append(ShellRcBlock(path=path, marker=RC_MARKER, content=content,
                                position="prepend" if daemon and shell == "sh" else "append",
                                mode=0o644, owner=owner, summary=f"put Nix on PATH in {path}"))
    return out


# -- nix.conf and nixpkgs config ----------------------------------------------------------------


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


def _nixpkgs_action(allow: list[str], home: str, owner: str) -> Optional[NixpkgsConfig]:
    lines = unfree_lines(allow)
    if not lines:
        return None
    path = nixpkgs_config_path(home)
    problem = _writable_problem(path)
    if problem:
        raise PlanningError(f"onboard will not edit {path}: {problem}", hint=f"make it writable and run again")
    if os.path.exists(path):
        from onboard.core.actions.blocks import remove_block

        text = remove_block(Path(path).read_text(errors="replace"), "nix-unfree")
        problem = nixpkgs_config_problem(text)
        if problem:
            raise PlanningError(f"onboard will not change {path}: {problem}",
                                hint="add this line to it yourself, or remove the conflicting setting and "
                                     "run again:\n    " + "\n    ".join(lines))
    what = "all unfree packages" if lines[0].startswith("allowUnfree ") else "unfree: " + ", ".join(allow)
    return NixpkgsConfig(path=path, lines=lines, owner=owner, summary=f"allow {what} in {path}")


# -- the plan -------------------------------------------------------------------------------------


def plan_nix_install(choices: Choices, view: Optional[MachineView] = None,
                     settings: Optional[NixSettings] = None) -> Plan:
    """The plan that installs Nix as `choices` say (or adopts the Nix that is already here)."""
    choices.validate()
    view = view or machine_view()
    table = load_table()
    settings = settings if settings is not None else team_settings(table)
    me = layout.who()
    system = current_system()
    if not system.endswith("-linux"):
        raise PlanningError(f"onboard installs Nix on Linux; this machine is {system}",
                            hint="on macOS use the official installer, then `onboard --mode skip`")
    if _foreign(view):
        return _adopt_plan(choices, view, me, settings)
    release = resolve_release(choices, table)
    if choices.mode == "daemon":
        return _daemon_plan(choices, view, me, release, settings)
    return _single_plan(choices, view, me, release, settings)


def _stop_for_existing(choices: Choices, view: MachineView) -> Optional[PlanningError]:
    facts = view.existing
    desc = _describe_existing(facts)
    # Team defaults do not overwrite a Nix that is already here; the user's own request does.
    team = choices.team_applied
    asked_tarball = bool(choices.tarball) and "tarball" not in team
    asked_version = bool(choices.nix_version) and "nix_version" not in team
    if asked_tarball or asked_version:
        return PlanningError(f"{desc} is already installed; onboard will not overwrite it with another release",
                             hint="keep it (run without --tarball/--nix-version, or with --mode skip), or "
                                  "uninstall it first")
    if getattr(facts, "mode", "") in ("single", "daemon") and facts.mode != choices.mode \
            and "mode" not in team:
        return PlanningError(f"{desc} is already installed; onboard will not turn it into a "
                             f"{choices.mode}-mode install",
                             hint=f"use --mode {facts.mode} to keep and configure it, or uninstall it first")
    return None


def _adopt_plan(choices: Choices, view: MachineView, me: layout.Who, settings: NixSettings) -> Plan:
    stop = _stop_for_existing(choices, view)
    if stop:
        raise stop
    facts = view.existing
    title = f"keep the {_describe_existing(facts)} that is already here; configure it"
    team = choices.team_applied
    if team.get("nix_version") and team["nix_version"] != facts.version:
        title += f" (the team config names Nix {team['nix_version']}; the one here is kept)"
    plan = Plan(name="nix", title=title,
                meta={"nix": {"adopted": True, "mode": facts.mode, "version": facts.version}})
    owner = me.user if me.via_sudo else ""
    nix_bin = facts.binaries.get("nix", "")
    conf_home = view.environ.get("XDG_CONFIG_HOME") or str(Path(me.home) / ".config")
    conf = str(Path(conf_home) / "nix" / "nix.conf")
    _check_writable([conf])
    plan.add(NixConfBlock(path=conf, marker="nix-settings", content="\n".join(nix_conf_lines(False, settings)),
                          mode=0o644, owner=owner, nix_bin=nix_bin, home=me.home, config_home=conf_home,
                          summary=f"enable flakes and the nix command in {conf}"))
    unfree = _nixpkgs_action(choices.allow_unfree, me.home, owner)
    if unfree:
        plan.add(unfree)
    bindir = os.path.dirname(facts.binaries.get("nix-store", nix_bin))
    if bindir and os.path.exists(os.path.join(bindir, "nix-instantiate")):
        plan.add(SelfTest(bindir=bindir, daemon=facts.mode == "daemon", home=me.home))
    return plan


def _check_writable(paths_: list[str]) -> None:
    for p in paths_:
        problem = _writable_problem(p)
        if problem:
            raise PlanningError(f"onboard will not edit {p}: {problem}",
                                hint="make it writable (chmod u+w) or move it aside, then run again; "
                                     "nothing was changed")


def _check_nix_root(daemon: bool, me: layout.Who) -> None:
    root = layout.NIX_ROOT
    if os.path.lexists(root) and (os.path.islink(root) or not os.path.isdir(root)):
        raise PlanningError(f"{root} exists and is not a directory", hint=f"move {root} aside and run again")
    if not os.path.isdir(root):
        return
    st = os.stat(root)
    if daemon:
        if st.st_uid != 0:
            raise PlanningError(f"{root} is owned by {_user_name(st.st_uid)}, not root: it looks like a "
                                "single-user Nix install", hint=f"uninstall it first (or `sudo chown -R root "
                                                                 f"{root}` if it is empty)")
        return
    if me.via_sudo:
        raise PlanningError("a single-user install is for the user running onboard; do not run it with sudo",
                            hint="run `onboard install --mode single` as yourself (it asks for sudo once, "
                                 "only to create /nix), or use --mode daemon")
    if st.st_uid != me.uid:
        raise PlanningError(f"{root} exists and is owned by {_user_name(st.st_uid)}; a single-user install "
                            f"needs it to be yours ({me.user})",
                            hint=f"if it is empty: `sudo chown {me.user} {root}`; if another user installed "
                                 "Nix there, use daemon mode (--mode daemon) instead")
    for d in (layout.STORE, layout.STATE, "/nix/var", "/nix/var/log"):
        if os.path.exists(d) and os.stat(d).st_uid != me.uid and me.uid != 0:
            raise PlanningError(f"{d} is owned by {_user_name(os.stat(d).st_uid)}; a single-user install "
                                f"needs all of /nix to be yours", hint=f"`sudo chown -R {me.user} {root}`")


def _user_name(uid: int) -> str:
    e = getent("passwd", uid)
    return e[0] if e else f"uid {uid}"


def _common_dirs(daemon: bool, me: layout.Who) -> list[str]:
    s = layout.STATE
    dirs = ["/nix/var", s, f"{s}/db", f"{s}/gcroots", f"{s}/gcroots/per-user", f"{s}/profiles",
            f"{s}/profiles/per-user", f"{s}/temproots", f"{s}/userpool", "/nix/var/log", "/nix/var/log/nix",
            "/nix/var/log/nix/drvs", layout.ONBOARD_DIR]
    if daemon:
        dirs.append(f"{s}/daemon-socket")
    else:
        dirs.append(f"{s}/profiles/per-user/{me.user}")
    return dirs


def _source_actions(release: Release) -> tuple[list, str]:
    """(actions, local tarball path) for getting the release."""
    if release.path:
        return [], release.path
    dest = str(paths.cache_dir() / "downloads" / release.filename)
    fetch = FetchTarball(url=release.url, sha256=release.sha256, dest=dest, size=release.size,
                         summary=f"download {release.label} from {release.url}"
                                 + (f" ({release.size / (1 << 20):.0f} MB)" if release.size else "")
                                 + " and check its SHA-256")
    return [fetch], dest


def _store_actions(archive: str, release: Release, home: str) -> list:
    return [
        UnpackRelease(archive=archive, sha256=release.sha256,
                      summary=f"check the SHA-256 of {os.path.basename(archive)}, then unpack it into "
                              f"{layout.STAGING}"),
        StorePaths(summary=f"move {release.label}'s store paths into {layout.STORE}"),
        LoadDb(home=home),
    ]


def _single_plan(choices: Choices, view: MachineView, me: layout.Who, release: Release,
                 settings: NixSettings) -> Plan:
    _check_nix_root(False, me)
    home = me.home
    profile = layout.user_profile(me.user)
    rc = _rc_actions(single_rc_targets(home, view.environ), daemon=False, owner="")
    conf_home = view.environ.get("XDG_CONFIG_HOME") or str(Path(home) / ".config")
    conf = str(Path(conf_home) / "nix" / "nix.conf")
    _check_writable([conf, *(a.path for a in rc)])
    plan = Plan(name="nix", title=f"install {release.label}, single-user, for {me.user}",
                meta={"nix": {"mode": "single", "version": release.version, "system": release.system,
                              "sha256": release.sha256, "source": release.url or release.path}})
    fetch, archive = _source_actions(release)
    plan.add(*fetch)
    plan.add(NixTree(owner="" if me.is_root else me.user, dirs=_common_dirs(False, me), home=home,
                     home_items=list(layout.HOME_ITEMS),
                     summary=f"create /nix (owned by {me.user}) with the store and Nix's state directories"))
    unpack, store, load_db = _store_actions(archive, release, home)
    plan.add(unpack, store)
    # nix.conf before Nix first runs: root's single-user Nix must not look for build users
    plan.add(NixConfBlock(path=conf, marker="nix-settings",
                          content="\n".join(nix_conf_lines(False, settings, root_single=me.is_root)),
                          mode=0o644, nix_bin=f"{profile}/bin/nix", staging=layout.STAGING, home=home,
                          config_home=conf_home, summary=f"enable flakes and the nix command in {conf}"))
    plan.add(load_db)
    plan.add(Symlink(path=str(Path(home) / ".nix-profile"), points_to=profile,
                     summary=f"link ~/.nix-profile to {profile}"))
    plan.add(NixProfile(profile=profile, home=home))
    unfree = _nixpkgs_action(choices.allow_unfree, home, "")
    if unfree:
        plan.add(unfree)
    plan.add(SelfTest(bindir=f"{profile}/bin", daemon=False, home=home))
    plan.add(*rc)
    return plan


def _daemon_plan(choices: Choices, view: MachineView, me: layout.Who, release: Release,
                 settings: NixSettings) -> Plan:
    _check_nix_root(True, me)
    init = choices.init
    if init == "auto":
        init = "systemd" if view.init == "systemd" else "none"
    elif init == "systemd" and view.init != "systemd":
        raise PlanningError("systemd is not running on this machine (containers and WSL often have none)",
                            hint="use --init none: onboard then starts and stops nix-daemon itself")
    home = me.home
    # Commands run as root (load-db, the default profile, the self-test) get root's HOME, or
    # nix-env would leave a root-owned ~/.nix-defexpr in the home of the user who ran sudo.
    root_home = os.environ.get("HOME", "") if me.via_sudo else home
    if not root_home or root_home == me.home:
        import pwd

        root_home = pwd.getpwuid(0).pw_dir if me.via_sudo else home
    owner = me.user if me.via_sudo else ""
    profile = layout.DEFAULT_PROFILE
    rc = _rc_actions(daemon_rc_targets(), daemon=True, owner="")
    _check_writable([layout.ETC_NIX_CONF, *(a.path for a in rc)])
    plan = Plan(name="nix", title=f"install {release.label} in daemon mode (multi-user"
                                  f"{', nix-daemon run by systemd' if init == 'systemd' else ', nix-daemon run by onboard'})",
                meta={"nix": {"mode": "daemon", "init": init, "version": release.version,
                              "system": release.system, "sha256": release.sha256,
                              "source": release.url or release.path}})
    fetch, archive = _source_actions(release)
    plan.add(*fetch)
    group = getent("group", BUILD_GROUP)
    if group is None:
        other = getent("group", BUILD_GID)
        if other is not None:
            raise PlanningError(f"gid {BUILD_GID} (for the {BUILD_GROUP} group) is already used by the group "
                                f"{other[0]!r}", hint="free that id; nothing was changed")
        gid = BUILD_GID
        plan.add(CreateGroup(name=BUILD_GROUP, gid=gid, summary=f"create the group {BUILD_GROUP} (gid {gid}) "
                                                                 "for Nix's build users"))
    else:
        gid = int(group[2])
        plan.meta["nix"]["build_group"] = f"using the existing group {BUILD_GROUP} (gid {gid})"
    count = choices.build_users
    _existing, problems = user_plan_problems(BUILD_GROUP, count, FIRST_UID, gid)
    if problems:
        raise PlanningError("; ".join(problems[:4]) + ("; ..." if len(problems) > 4 else ""),
                        hint="free those names or ids (`getent passwd` lists them); nothing was changed")
    plan.add(BuildUsers(prefix=BUILD_GROUP, count=count, first_uid=FIRST_UID, group=BUILD_GROUP, gid=gid))
    plan.add(NixTree(owner="root", group="root", store_mode=0o1775, store_group=BUILD_GROUP,
                     dirs=_common_dirs(True, me), home=home, home_items=list(layout.HOME_ITEMS),
                     summary=f"create /nix (owned by root; /nix/store root:{BUILD_GROUP} 1775) with Nix's "
                             "state directories"))
    plan.add(*_store_actions(archive, release, root_home))
    plan.add(NixProfile(profile=profile, home=root_home, summary=f"create the default profile {profile} with Nix"))
    if me.is_root:
        plan.add(Symlink(path=str(Path(home) / ".nix-profile"), points_to=profile,
                         summary=f"link root's ~/.nix-profile to {profile}"))
    plan.add(NixConfBlock(path=layout.ETC_NIX_CONF, marker="nix-settings",
                          content="\n".join(nix_conf_lines(True, settings)), mode=0o644,
                          nix_bin=f"{profile}/bin/nix", home=home,
                          summary=f"set the build group and enable flakes in {layout.ETC_NIX_CONF}"))
    proxies = proxy_env(view.environ)
    if init == "systemd":
        for u in ("nix-daemon.socket", "nix-daemon.service"):
            dest = f"{layout.SYSTEMD_DIR}/{u}"
            ours = os.path.islink(dest) and os.readlink(dest) == f"{profile}/lib/systemd/system/{u}"
            if os.path.lexists(dest) and not ours and not _generated_unit_here(dest, u, profile):
                raise PlanningError(f"{dest} already exists; onboard will not replace another nix-daemon unit",
                                    hint="remove the other Nix install's units first, or use --mode skip")
        plan.add(SystemdUnits(unit_dir=layout.SYSTEMD_DIR, profile=profile, proxy=proxies, start=True,
                              summary="link nix-daemon.socket/.service from the profile into "
                                      f"{layout.SYSTEMD_DIR}" + (", add a proxy drop-in" if proxies else "")
                                      + " and start them"))
    else:
        plan.add(DaemonProcess(program=f"{profile}/bin/nix-daemon", args=[], pidfile=layout.DAEMON_PIDFILE,
                               socket=layout.DAEMON_SOCKET, log=layout.DAEMON_LOG,
                               summary="start nix-daemon (no init system here: onboard runs it and "
                                       f"`onboard uninstall` stops it; pid in {layout.DAEMON_PIDFILE})"))
    unfree = _nixpkgs_action(choices.allow_unfree, home, owner)
    if unfree:
        plan.add(unfree)
    plan.add(SelfTest(bindir=f"{profile}/bin", daemon=True, home=root_home))
    plan.add(*rc)
    return plan


def _generated_unit_here(dest: str, name: str, profile: str) -> bool:
    """True when `dest` is the unit onboard generates for a release without units (a re-run)."""
    from onboard.core.actions.system import generated_unit

    try:
        with open(dest, encoding="utf-8") as fh:
            return fh.read() == generated_unit(name, f"{profile}/bin/nix-daemon")
    except (OSError, UnicodeDecodeError):
        return False

