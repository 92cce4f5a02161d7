"""What `onboard uninstall` does about services: it stops every service of every project
onboard knows (the supervisor's records and the project's token find them all, as `down`
does), lists each data directory with its size, and removes data only when asked to
(`--delete-data`, never `--yes` alone). Without it the data directories stay where they
are, and so do the few state directories that hold them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any, Callable

from onboard.core.services import state


@dataclass
class DataDir:
    project: str
    service: str
    path: str
    size: int  # bytes

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "service": self.service, "path": self.path, "bytes": self.size}


def all_data_dirs(project: str = "") -> list[DataDir]:
    """Every service data directory of every project with services state (or of `project`)."""
    from onboard.core.services import control

    out = []
    only = os.path.abspath(project) if project else ""
    for root in state.projects_with_services():
        if only and os.path.abspath(root) != only:
            continue
        for name, path, size in control.data_dirs(root):
            out.append(DataDir(root, name, path, size))
    return out


def running_services(root: str) -> list[str]:
    """The names of a project's services that run (or whose processes are left)."""
    from onboard.core.services import control

    alive = control.running(root)
    st = control.read_status(root) if alive else {}
    names = {n for n, e in (st.get("services") or {}).items() if e.get("state") != "stopped"}
    left = control.strays(root)
    names.update(n for n in left.values() if n and n != "supervisor")
    if not names and (alive or left):
        names.add("its supervisor")
    return sorted(names)


def _stopper(root: str) -> Callable[[], None]:
    def stop() -> None:
        from onboard.core.services import control

        left = control.down(root)
        if left:
            raise RuntimeError(f"could not stop pids {', '.join(left)}: stop them by hand (kill -9 PID)")
        shutil.rmtree(state.sock_dir(root), ignore_errors=True)

    return stop


def _deleter(path: str) -> Callable[[], None]:
    def delete() -> None:
        shutil.rmtree(path)

    return delete


def cleanup_items(delete_data: bool = False) -> tuple[list[Any], list[DataDir]]:
    """(the uninstall plan's items: stop each project's running services, then, with
    `delete_data`, delete each data directory; the data directories kept)."""
    from onboard.core.uninstall import CleanupItem

    items = []
    for root in state.projects_with_services():
        running = running_services(root)
        if running:
            items.append(CleanupItem(description=f"stop the services of {root} ({', '.join(running)})",
                                     paths=[state.services_dir(root)], remove=_stopper(root), first=True))
        elif os.path.isdir(state.sock_dir(root)):
            items.append(CleanupItem(description=f"remove the socket directory of {root}'s services",
                                     paths=[state.sock_dir(root)],
                                     remove=_stopper(root), first=True))
    dirs = all_data_dirs()
    if not delete_data:
        return items, dirs
    for d in dirs:
        items.append(CleanupItem(description=f"delete the data of service {d.service} of {d.project} "
                                             f"({human(d.size)})", paths=[d.path], remove=_deleter(d.path)))
    return items, []


def human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def remove_projects_keeping_data(projects_root: str) -> None:
    """Remove the projects' state under `projects_root` except the services' data
    directories that are still there (uninstall deletes those first when asked to), and
    the directories that lead to them."""
    from onboard.core.services import control

    keep = set()
    for root in state.projects_with_services():
        dirs = all_data_dirs(root)
        if dirs:  # and the record of where they are, for the next uninstall or gc
            keep.add(os.path.abspath(state.path(root, control.DATA_RECORD)))
        for d in dirs:
            keep.add(os.path.abspath(d.path))
    under = os.path.abspath(projects_root) + os.sep
    keep = {k for k in keep if k.startswith(under)}
    if not keep:
        shutil.rmtree(projects_root, ignore_errors=True)
        return
    _remove_except(os.path.abspath(projects_root), keep)


def _remove_except(directory: str, keep: set[str]) -> None:
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for n in names:
        p = os.path.join(directory, n)
        if p in keep:
            continue
        if any(k.startswith(p + os.sep) for k in keep) and os.path.isdir(p) and not os.path.islink(p):
            _remove_except(p, keep)
        elif os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass


__all__ = ["DataDir", "all_data_dirs", "cleanup_items", "remove_projects_keeping_data", "running_services", "human"]
