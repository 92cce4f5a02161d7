"""Where a project's services keep their state (a contract with envfile.py and the direnv library):

    $state/projects/<key>/services/
      ports.json        the port of each service, chosen at the first up and kept
      env.<profile>     the variables exported at entry (envfile.py)
      run.json          what the supervisor runs (written by `up` before it starts it)
      supervisor.json   the supervisor's tracked-process record (intent before the spawn)
      status.json       each service's state, pid and record, written by the supervisor
      requests.json     restart / reset asked of a running supervisor
      <name>/data       a service's data (unless the profile names another data_dir)
      <name>/log        its output
    /tmp/onboard-<uid>-<hash>/  (or $XDG_RUNTIME_DIR/onboard-<hash>) the unix sockets: short,
                                 as socket paths must be (107 bytes)
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Optional

from onboard.core.profiles import cache
from onboard.core.services import envfile

TOKEN_VAR = "ONBOARD_SERVICES_OF"  # in every process of a project's services: how `down` finds them all
NAME_VAR = "ONBOARD_SERVICE"


def services_dir(root: str) -> str:
    return os.path.join(cache.project_dir(root), envfile.DIR)


def service_dir(root: str, name: str) -> str:
    return os.path.join(services_dir(root), name)


def token(root: str) -> str:
    return hashlib.sha256(services_dir(root).encode("utf-8", "surrogateescape")).hexdigest()[:20]


def data_dir(root: str, name: str, declared: str = "") -> str:
    """A service's data: `data_dir` of the profile (relative to the project root), else the
    project's state directory."""
    if declared:
        return os.path.normpath(os.path.join(root, os.path.expanduser(declared)))
    return os.path.join(service_dir(root, name), "data")


def log_file(root: str, name: str) -> str:
    return os.path.join(service_dir(root, name), "log")


def env_file(root: str, profile: str) -> str:
    return envfile.path(cache.project_dir(root), profile)


def sock_dir(root: str) -> str:
    """A short directory of this project's unix sockets (made by make_sock_dir)."""
    h = token(root)[:12]
    run = os.environ.get("XDG_RUNTIME_DIR", "")
    if run.startswith("/") and os.path.isdir(run) and os.access(run, os.W_OK) and len(run) < 60:
        return os.path.join(run, f"onboard-{h}")
    return f"/tmp/onboard-{os.getuid()}-{h}"


def make_sock_dir(root: str) -> str:
    d = sock_dir(root)
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    import stat as stat_mod

    if not stat_mod.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(f"{d} is not a directory of this user's: remove it (onboard keeps its sockets there)")
    os.chmod(d, 0o700)
    return d


def read_json(path: str) -> Optional[Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def write_json(path: str, doc: Any) -> None:
    """Atomically and durably (the supervisor's intent must be on disk before its spawn)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def path(root: str, name: str) -> str:
    return os.path.join(services_dir(root), name)


def ports(root: str) -> dict[str, int]:
    doc = read_json(path(root, "ports.json"))
    return {k: int(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def save_ports(root: str, chosen: dict[str, int]) -> None:
    write_json(path(root, "ports.json"), chosen)


def projects_with_services() -> list[str]:
    """Every project directory (in the state) whose services have state: for uninstall and gc."""
    base = os.path.join(cache.state_root(), "projects")
    out = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    for n in names:
        if os.path.isdir(os.path.join(base, n, envfile.DIR)):
            out.append(n.replace("%", "/"))
    return out


__all__ = ["services_dir", "service_dir", "data_dir", "log_file", "env_file", "sock_dir", "make_sock_dir",
           "read_json", "write_json", "path", "ports", "save_ports", "token", "projects_with_services",
           "TOKEN_VAR", "NAME_VAR"]
