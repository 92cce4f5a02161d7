"""onboard's own installation, as installer/bootstrap.sh made it: a virtualenv under the XDG data
dir, a launcher (~/.local/bin/onboard) and a marker file naming both and the directories the
bootstrap created. `onboard uninstall` removes them as its very last step, and only what the
marker says the bootstrap created: a development checkout's .venv is never touched.

The marker is plain `key=value` lines so that the sh bootstrap can read and write it too.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Optional

from onboard.core import paths

MARKER_NAME = "bootstrap.marker"
#: the line that makes a launcher ours (the bootstrap writes it as the second line)
LAUNCHER_SIGNATURE = "# onboard launcher written by onboard's installer/bootstrap.sh"


@dataclass
class SelfInstall:
    """What the marker says the bootstrap created."""

    marker: Path
    venv: Optional[Path] = None
    launcher: Optional[Path] = None
    source: str = ""
    created: list[Path] = field(default_factory=list)  # outermost first


def marker_path() -> Path:
    return paths.data_dir() / MARKER_NAME


def read_marker(path: Optional[Path] = None) -> Optional[SelfInstall]:
    """The recorded install, or None when the bootstrap did not install onboard here."""
    path = Path(path) if path else marker_path()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    info = SelfInstall(marker=path)
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            continue
        if key == "source":
            info.source = value
        elif not value.startswith("/"):
            continue  # every path the bootstrap records is absolute
        elif key == "venv":
            info.venv = Path(value)
        elif key == "launcher":
            info.launcher = Path(value)
        elif key == "created":
            info.created.append(Path(value))
    return info


def is_bootstrap_venv(path: Path) -> bool:
    """Only `<data dir>/onboard/venv` made by the bootstrap qualifies, never a project's .venv."""
    path = Path(path)
    if path.name != "venv" or path.parent.name != "onboard" or path.is_symlink():
        return False
    if (path.parent / "pyproject.toml").exists() or (path.parent / ".git").exists():
        return False  # a checkout that happens to be called onboard: not ours to delete
    return path.is_dir()


def launcher_is_ours(path: Path) -> bool:
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return False
    try:
        head = path.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return False
    return LAUNCHER_SIGNATURE in head


def remove_venv(venv: Path) -> None:
    if is_bootstrap_venv(venv):
        shutil.rmtree(venv)


def remove_launcher(launcher: Path) -> None:
    if launcher_is_ours(launcher):
        launcher.unlink()


def remove_marker_and_dirs(info: SelfInstall) -> None:
    try:
        info.marker.unlink()
    except FileNotFoundError:
        pass
    for d in reversed(info.created):  # innermost first, and only when empty
        try:
            os.rmdir(d)
        except OSError:
            pass


def cleanup_items() -> list:
    """The uninstall's last steps: onboard's virtualenv, launcher and marker (see onboard/core/uninstall.py)."""
    from onboard.core.uninstall import CleanupItem

    info = read_marker()
    if info is None:
        return []
    items: list[CleanupItem] = []
    venv, launcher = info.venv, info.launcher
    if venv is not None and is_bootstrap_venv(venv):
        items.append(CleanupItem(description=f"remove onboard's virtualenv {venv}", paths=[str(venv)],
                                 remove=partial(remove_venv, venv), last=True))
    if launcher is not None and launcher_is_ours(launcher):
        items.append(CleanupItem(description=f"remove the onboard launcher {launcher}", paths=[str(launcher)],
                                 remove=partial(remove_launcher, launcher), last=True))
    created = [str(d) for d in info.created if d.is_dir()]
    items.append(CleanupItem(description="remove the bootstrap's marker and the directories it created "
                                         "(when empty)",
                             paths=[str(info.marker), *created],
                             remove=partial(remove_marker_and_dirs, info), last=True))
    return items
