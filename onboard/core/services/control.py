"""What the front ends call: up, down, status, logs, restart, reset of a project's services.

The core reports through `emit` (Progress events) and never prints. Errors are
ServicesError with a message and a hint in plain words.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from onboard.core import procs
from onboard.core.profiles.model import Profile
from onboard.core.services import envfile, ports as portmod, registry, state
from onboard.core.services.model import ServiceSpec, specs
from onboard.core.services.records import (DATA_RECORD, _data_dir, _reap, _record_data_dirs, _signal_group,
                                           _stop_strays, data_dirs, dir_size, read_status, running, status, strays,
                                           supervisor_pids, tail)

Emit = Callable[[Any], None]
UP_TIMEOUT = 120.0


@dataclass
class Progress:
    """A service's state changed while `up` waits: "initializing", "starting", "ready", ...
    `seconds`: since `up` began."""

    service: str
    state: str
    seconds: float
    message: str = ""


@dataclass
class UpResult:
    started: bool  # False: everything was up already
    services: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_root: str = ""  # an ephemeral run's data


class ServicesError(Exception):
    def __init__(self, message: str, hint: str = "", log: Optional[list[str]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.log = log or []


def _discard(_event: Any) -> None:
    pass


# -- the profile's services and their variables ------------------------------------------------

def project_profile(root: str, name: Optional[str] = None) -> tuple[Profile, list[str]]:
    """The profile whose services a project runs: `name`, else the project's active one;
    with the project's profile directories."""
    from pathlib import Path

    from onboard.core import project as projects
    from onboard.core.profiles import cache
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    name = name or cache.active_name(root)
    if not name:
        raise ServicesError(f"{root} has no active profile",
                            "make one active (onboard switch NAME), or give --profile NAME")
    dirs = projects.profile_dirs(root)
    try:
        return load_profile(name, dirs=[Path(d) for d in dirs]), dirs
    except SchemaError as exc:
        raise ServicesError(f"cannot load profile {name}:\n" + "\n".join(f"  {p}" for p in exc.problems),
                            "fix the profile (onboard profiles validate)")


def wanted(profile: Profile, names: Optional[list[str]] = None) -> list[ServiceSpec]:
    """The profile's enabled services (`names` and what they come after), in start order."""
    all_specs = specs(profile.services)
    if not names:
        return all_specs
    known = {s.name: s for s in all_specs}
    for n in names:
        if n not in known:
            from onboard.core.schema.suggest import suffix

            raise ServicesError(f"profile {profile.name} has no service `{n}`{suffix(n, list(known))}",
                                f"its services: {', '.join(known) or 'none'}")
    keep: set[str] = set()

    def add(n: str) -> None:
        if n not in keep:
            keep.add(n)
            for d in known[n].after:
                add(d)

    for n in names:
        add(n)
    return [s for s in all_specs if s.name in keep]


def choose_ports(root: str, chosen_specs: list[ServiceSpec], renew: bool = False) -> dict[str, int]:
    """Each service's port: as the profile says, else the one kept from an earlier up, else a
    free loopback port, kept from now on."""
    kept = state.ports(root)
    changed = False
    for s in chosen_specs:
        if isinstance(s.port, int):
            if kept.get(s.name) != s.port:
                kept[s.name] = s.port
                changed = True
        elif s.port == "auto" and (renew or s.name not in kept):
            others = [p for n, p in kept.items() if n != s.name]
            kept[s.name] = portmod.pick(others)
            changed = True
    if changed:
        state.save_ports(root, kept)
    return kept


def variables(root: str, profile: Profile, chosen: Optional[dict[str, int]] = None,
              data_root: str = "") -> dict[str, str]:
    kept = chosen if chosen is not None else state.ports(root)
    out: dict[str, str] = {}
    for s in specs(profile.services):
        impl = registry.by_id(s.kind).impl()
        port = kept.get(s.name) if s.port is not None else None
        if s.port is not None and port is None:
            continue
        out.update(impl.variables(s, port, _data_dir(root, s, data_root)))
    return out


def ensure_variables(root: Optional[str], profile: Profile, renew: bool = False) -> dict[str, str]:
    """Ports chosen (once) and the variables file written: called at entry (the slow path of
    `onboard shell`) and by `up`. No Nix, no process: a few socket binds the first time."""
    if not root or not profile.services:
        return {}
    chosen = choose_ports(root, specs(profile.services), renew=renew)
    values = variables(root, profile, chosen)
    path = state.env_file(root, profile.name)
    text = envfile.render(values)
    try:
        with open(path, encoding="utf-8") as fh:
            same = fh.read() == text
    except OSError:
        same = False
    if not same:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    return values


# -- up ------------------------------------------------------------------------------------------

def _env_path(env_sh: str) -> str:
    try:
        with open(env_sh, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                if line.startswith("PATH="):
                    words = shlex.split(line[5:].strip())
                    return words[0] if words else ""
    except (OSError, ValueError):
        pass
    return ""


def _find(prog: str, path: str) -> str:
    for d in path.split(os.pathsep):
        if d:
            cand = os.path.join(d, prog)
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
    return ""


def environment(profile: Profile, root: str, emit: Emit, dirs: Optional[list[str]] = None) -> tuple[str, str]:
    """(env.sh, its PATH) of the profile's environment, built when needed."""
    from onboard.core.profiles import build

    try:
        result = build.ensure_env(profile, emit=emit, project=root, dirs=dirs)
    except build.EnvError as exc:
        raise ServicesError(f"cannot build the environment of profile {profile.name}: {exc.message}",
                            exc.hint, exc.log[-20:])
    return result.env_sh, _env_path(result.env_sh)


def _run_doc(root: str, profile: Profile, chosen_specs: list[ServiceSpec], chosen: dict[str, int],
             env_sh: str, path: str, data_root: str, ephemeral: bool,
             watch: Optional[dict[str, Any]]) -> dict[str, Any]:
    sock = state.make_sock_dir(root)
    entries = []
    values = variables(root, profile, chosen, data_root)
    for s in chosen_specs:
        impl = registry.by_id(s.kind).impl()
        bins: dict[str, str] = {}
        for prog in impl.PROGRAMS:
            found = _find(prog, path) or (shutil.which(prog) or "" if s.kind == "generic" else "")
            if not found:
                raise ServicesError(
                    f"service {s.name}: `{prog}` is not in the environment of profile {profile.name}",
                    f"give services.{s.name}.package the package that has it (now: {s.package or 'none'})")
            bins[prog] = found
        entries.append({
            "name": s.name, "kind": s.kind, "port": chosen.get(s.name) if s.port is not None else None,
            "data_dir": _data_dir(root, s, data_root), "log": state.log_file(root, s.name), "sock_dir": sock,
            "cwd": root, "bins": bins, "settings": s.settings, "databases": s.databases,
            "extensions": s.extensions, "after": [a for a in s.after if a in {x.name for x in chosen_specs}],
            "run": s.run, "ready": s.ready, "stop": s.stop, "grace": s.grace, "env": s.env if s.kind == "generic"
            else {}})
    env = {k: v for k, v in os.environ.items() if k not in (state.TOKEN_VAR, state.NAME_VAR)}
    env.update(values)
    env["PATH"] = path + (os.pathsep + os.environ["PATH"] if os.environ.get("PATH") else "")
    env["ONBOARD_ENV_SH"] = env_sh
    env["ONBOARD_PROJECT_DIR"] = root
    return {"profile": profile.name, "project": root, "token": state.token(root), "services": entries,
            "env": env, "ephemeral": ephemeral, "data_root": data_root, "watch": watch}


def _check_ports(chosen_specs: list[ServiceSpec], chosen: dict[str, int]) -> None:
    for s in chosen_specs:
        port = chosen.get(s.name)
        if s.port is None or port is None:
            continue
        if not portmod.is_free(port):
            who = portmod.holder(port)
            fixed = isinstance(s.port, int)
            raise ServicesError(
                f"port {port} of service {s.name} is taken by {who}",
                f"stop that program, or give services.{s.name}.port another number" if fixed else
                "stop that program, or choose new ports: onboard services up --new-ports")


def up(root: str, profile: Profile, names: Optional[list[str]] = None, emit: Emit = _discard,
       ephemeral: bool = False, watch_pid: Optional[int] = None, new_ports: bool = False,
       dirs: Optional[list[str]] = None, build_emit: Optional[Emit] = None) -> UpResult:
    """Start the profile's services (or `names`) and return once every one is ready."""
    t0 = time.monotonic()
    chosen_specs = wanted(profile, names)
    if not chosen_specs:
        raise ServicesError(f"profile {profile.name} has no services",
                            "add `services:` to the profile (onboard profiles schema)")
    if running(root):
        st = read_status(root)
        if st.get("profile") != profile.name:
            raise ServicesError(f"the services of profile {st.get('profile')} run in {root}",
                                "stop them first: onboard services down")
        if ephemeral and not st.get("ephemeral"):
            raise ServicesError("the services run on the kept data already, so they cannot be ephemeral",
                                "use them as they are (drop --ephemeral), or stop them: onboard services down")
        have = set((st.get("services") or {}).keys())
        missing = [s.name for s in chosen_specs if s.name not in have]
        if missing:
            raise ServicesError(f"the services run without {', '.join(missing)} (started before the profile "
                                f"named them)", "restart them all: onboard services down, then up")
        _wait(root, [s.name for s in chosen_specs], emit, t0)
        return UpResult(started=False, services=[s.name for s in chosen_specs], seconds=time.monotonic() - t0)
    _stop_strays(root)
    ensure_variables(root, profile, renew=new_ports)
    chosen = choose_ports(root, chosen_specs)
    _check_ports(chosen_specs, chosen)
    env_sh, path = environment(profile, root, build_emit or _discard, dirs)
    data_root = tempfile.mkdtemp(prefix="onboard-services-") if ephemeral else ""
    watch = {"pid": watch_pid, "start": procs.start_ticks(watch_pid)} if watch_pid else None
    sdir = state.services_dir(root)
    try:
        doc = _run_doc(root, profile, chosen_specs, chosen, env_sh, path, data_root, ephemeral, watch)
        for stale in ("status.json", "requests.json"):
            try:
                os.unlink(state.path(root, stale))
            except OSError:
                pass
        state.write_json(state.path(root, "run.json"), doc)
        if not ephemeral:
            _record_data_dirs(root, {e["name"]: e["data_dir"] for e in doc["services"]})
        _spawn_supervisor(root, sdir)
        _wait(root, [s.name for s in chosen_specs], emit, t0)
    except BaseException:
        down(root)
        if data_root:
            shutil.rmtree(data_root, ignore_errors=True)
        raise
    return UpResult(started=True, services=[s.name for s in chosen_specs], seconds=time.monotonic() - t0,
                    data_root=data_root)


def _spawn_supervisor(root: str, sdir: str) -> None:
    import onboard

    python = sys.executable or "/usr/bin/python3"
    rec = procs.intent(python, name="")
    rec["name"] = ""
    rec["cwd"] = os.path.realpath(sdir)
    state.write_json(state.path(root, "supervisor.json"), rec)  # the intent, on disk before the spawn
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(onboard.__file__)))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env[state.TOKEN_VAR] = state.token(root)
    env[state.NAME_VAR] = "supervisor"
    log = open(state.path(root, "supervisor.log"), "ab")
    try:
        # -S: no site (the supervisor needs only onboard, on PYTHONPATH, and the standard library)
        procs.spawn(rec, [python, "-S", "-m", "onboard.core.services.supervisor", sdir], cwd=sdir, env=env,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True)
    except OSError as exc:
        raise ServicesError(f"cannot start onboard's supervisor ({python}): {exc.strerror or exc}")
    finally:
        log.close()
    state.write_json(state.path(root, "supervisor.json"), rec)


def _wait(root: str, names: list[str], emit: Emit, t0: float) -> None:
    seen: dict[str, str] = {}
    deadline = time.monotonic() + UP_TIMEOUT
    check_at = t0 + 0.5  # whether the supervisor lives: a scan of /proc, so now and then only
    while True:
        st = read_status(root)
        services = st.get("services") or {}
        for n in names:
            e = services.get(n)
            if not e:
                continue
            if seen.get(n) != e["state"]:
                seen[n] = e["state"]
                emit(Progress(n, e["state"], time.monotonic() - t0, e.get("message") or ""))
            if e["state"] in ("failed", "exited"):
                raise ServicesError(e.get("message") or f"{n} failed", f"its log: {e.get('log')}",
                                    tail(e.get("log") or "", 20))
        if services and all((services.get(n) or {}).get("state") == "ready" for n in names):
            return
        now = time.monotonic()
        if now >= check_at and not running(root):
            raise ServicesError("onboard's supervisor of this project's services ended before they were ready",
                                f"its log: {state.path(root, 'supervisor.log')}",
                                tail(state.path(root, "supervisor.log"), 20))
        if now >= check_at:
            check_at = now + 0.25
        if now > deadline:
            raise ServicesError(f"the services were not ready within {int(UP_TIMEOUT)} s",
                                "see their logs: onboard services logs NAME")
        time.sleep(0.01)


# -- down, status, logs, restart, reset -------------------------------------------------------------

def down(root: str, emit: Emit = _discard, timeout: float = 30.0) -> list[str]:
    """Stop the supervisor and every process of the project's services (whatever the records
    match, and whatever carries the project's token); the pids that could not be stopped."""
    t0 = time.monotonic()
    sup = supervisor_pids(root)
    rec = state.read_json(state.path(root, "supervisor.json"))
    for pid in sup:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while sup and time.monotonic() < deadline:
        _reap()
        sup = [p for p in sup if isinstance(rec, dict) and procs.matches(p, rec)]
        time.sleep(0.01)
    for pid in sup:
        _signal_group(pid, signal.SIGKILL)
    st = read_status(root)
    for name, e in (st.get("services") or {}).items():
        if e.get("rec") and e.get("state") not in ("stopped",):
            procs.stop(e["rec"], timeout=5.0)
    left = _stop_strays(root)
    run = state.read_json(state.path(root, "run.json"))
    if isinstance(run, dict) and run.get("ephemeral") and run.get("data_root"):
        shutil.rmtree(run["data_root"], ignore_errors=True)
    for name in ("supervisor.json", "run.json", "requests.json"):
        try:
            os.unlink(state.path(root, name))
        except OSError:
            pass
    if st.get("services"):
        for e in st["services"].values():
            if e.get("state") not in ("failed",):
                e["state"] = "stopped"
            e["pid"] = None
        st["stopping"] = False
        state.write_json(state.path(root, "status.json"), st)
    emit(Progress("*", "stopped", time.monotonic() - t0))
    return [str(p) for p in left]


def _ask(root: str, what: str, name: str) -> None:
    state.write_json(state.path(root, "requests.json"), {what: [name]})
    for pid in supervisor_pids(root):
        os.kill(pid, signal.SIGUSR1)


def restart(root: str, profile: Profile, name: str, emit: Emit = _discard) -> UpResult:
    wanted(profile, [name])
    if not running(root):
        return up(root, profile, [name], emit=emit)
    t0 = time.monotonic()
    before = (read_status(root).get("services") or {}).get(name, {}).get("started_at")
    _ask(root, "restart", name)
    _wait_restarted(root, name, before)
    _wait(root, [name], emit, t0)
    return UpResult(started=True, services=[name], seconds=time.monotonic() - t0)


def _wait_restarted(root: str, name: str, before: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        e = (read_status(root).get("services") or {}).get(name, {})
        if e.get("started_at") != before or e.get("state") in ("waiting", "initializing", "starting"):
            return
        time.sleep(0.01)


def reset(root: str, profile: Profile, name: str, emit: Emit = _discard) -> str:
    """Wipe the data of service `name` (restarting it on empty data when it runs); its data dir."""
    spec = wanted(profile, [name])[-1]
    data = _data_dir(root, spec)
    if running(root):
        t0 = time.monotonic()
        before = (read_status(root).get("services") or {}).get(name, {}).get("started_at")
        _ask(root, "reset", name)
        _wait_restarted(root, name, before)
        _wait(root, [name], emit, t0)
    else:
        shutil.rmtree(data, ignore_errors=True)
    return data




def project_status(directory: str) -> tuple[str, str, list[dict[str, Any]]]:
    """(the project root, its active profile, status rows of that profile's services) for a
    directory in a project; no rows when there is no active profile or it has no services."""
    from onboard.core import project as projects
    from onboard.core.profiles import cache

    root = projects.resolve(None, start=directory) or os.path.realpath(directory)
    name = cache.active_name(root)
    if not name:
        return root, "", []
    profile, _dirs = project_profile(root, name)
    return root, name, status(root, profile) if profile.services else []


__all__ = ["project_profile", "project_status", "up", "down", "status", "restart", "reset", "running",
           "ensure_variables", "variables", "wanted", "Progress", "UpResult", "ServicesError", "tail", "data_dirs",
           "strays", "dir_size", "read_status", "supervisor_pids", "DATA_RECORD"]
