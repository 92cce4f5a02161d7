"""Choices -> the Plan that installs Nix (single-user or daemon mode), or adopts the Nix that is
already there. Everything that can be checked before changing anything is checked here and
raised as a PlanningError (nothing changed): a foreign /nix, id collisions, read-only rc files,
a config.nix onboard cannot merge, a missing SHA-256.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core import paths
from onboard.core.actions.files import Symlink
from onboard.core.actions.system import getent, proxy_env
from onboard.core.choices import Choices
from onboard.core.engine.plan import Plan
from onboard.core.machine import existing_nix, init_system
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.actions.build_group import CreateGroup
from onboard.core.nixinstall.actions.build_users import BuildUsers, user_plan_problems
from onboard.core.nixinstall.actions.common import writable_problem
from onboard.core.nixinstall.actions.daemon_process import DaemonProcess
from onboard.core.nixinstall.actions.fetch_tarball import FetchTarball
from onboard.core.nixinstall.actions.load_db import LoadDb
from onboard.core.nixinstall.actions.nix_conf_block import NixConfBlock
from onboard.core.nixinstall.actions.nix_profile import NixProfile
from onboard.core.nixinstall.actions.nix_tree import NixTree
from onboard.core.nixinstall.actions.self_test import SelfTest
from onboard.core.nixinstall.actions.store_paths import StorePaths
from onboard.core.nixinstall.actions.systemd_units import SystemdUnits, generated_unit
from onboard.core.nixinstall.actions.unpack_release import UnpackRelease
from onboard.core.nixinstall.configs import (BUILD_GROUP, NixSettings, daemon_rc_targets, nix_conf_lines,
                                             nixpkgs_action, rc_actions, single_rc_targets, team_settings)
from onboard.core.nixinstall.errors import PlanningError
from onboard.core.nixinstall.versions import (Release, current_system, known_release, load_table,
                                              lookup_sha256, parse_tarball_name)

BUILD_GID = 30000
FIRST_UID = 30001


@dataclass
class MachineView:
    """What the planner needs to know about the machine (tests pass their own)."""

    existing: Any = None  # onboard.core.machine.NixFacts or None
    ours: bool = False  # onboard's receipt records this Nix install
    init: str = "none"  # systemd | other | none
    environ: dict[str, str] = field(default_factory=dict)


def machine_view() -> MachineView:
    return MachineView(existing=existing_nix(), ours=_ours(), init=init_system(), environ=dict(os.environ))


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


# -- nix.conf and nixpkgs config ----------------------------------------------------------------


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
    unfree = nixpkgs_action(choices.allow_unfree, me.home, owner)
    if unfree:
        plan.add(unfree)
    bindir = os.path.dirname(facts.binaries.get("nix-store", nix_bin))
    if bindir and os.path.exists(os.path.join(bindir, "nix-instantiate")):
        plan.add(SelfTest(bindir=bindir, daemon=facts.mode == "daemon", home=me.home, read_only=True))
    return plan


def _check_writable(paths_: list[str]) -> None:
    for p in paths_:
        problem = writable_problem(p)
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
    rc = rc_actions(single_rc_targets(home, view.environ), daemon=False, owner="")
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
    unfree = nixpkgs_action(choices.allow_unfree, home, "")
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
    rc = rc_actions(daemon_rc_targets(), daemon=True, owner="")
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
    unfree = nixpkgs_action(choices.allow_unfree, home, owner)
    if unfree:
        plan.add(unfree)
    plan.add(SelfTest(bindir=f"{profile}/bin", daemon=True, home=root_home))
    plan.add(*rc)
    return plan


def _generated_unit_here(dest: str, name: str, profile: str) -> bool:
    """True when `dest` is the unit onboard generates for a release without units (a re-run)."""
    try:
        with open(dest, encoding="utf-8") as fh:
            return fh.read() == generated_unit(name, f"{profile}/bin/nix-daemon")
    except (OSError, UnicodeDecodeError):
        return False

