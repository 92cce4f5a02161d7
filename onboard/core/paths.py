"""XDG locations. Asking for a path never creates it (zero residue)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path(os.path.expanduser(default))


def home() -> Path:
    return Path(os.path.expanduser("~"))


def config_home() -> Path:
    return _xdg("XDG_CONFIG_HOME", "~/.config")


def state_home() -> Path:
    return _xdg("XDG_STATE_HOME", "~/.local/state")


def cache_home() -> Path:
    return _xdg("XDG_CACHE_HOME", "~/.cache")


def data_home() -> Path:
    return _xdg("XDG_DATA_HOME", "~/.local/share")


def state_dir() -> Path:
    """Where receipts, backups, generations and the apply lock live."""
    override = os.environ.get("ONBOARD_STATE_DIR")
    return Path(override) if override else state_home() / "onboard"


def cache_dir() -> Path:
    override = os.environ.get("ONBOARD_CACHE_DIR")
    return Path(override) if override else cache_home() / "onboard"


def data_dir() -> Path:
    return data_home() / "onboard"


def receipts_dir() -> Path:
    return state_dir() / "receipts"


def backups_dir() -> Path:
    return state_dir() / "backups"


def log_dir() -> Path:
    return state_dir() / "logs"


_CREATED = ".created-parents"


def make_owned_dir(path: Path, mode: int = 0o700) -> Path:
    """Create one of onboard's top directories (state, cache, data), remembering which of
    its parents did not exist, so `prune_owned_dir` can leave the tree as it found it."""
    path = Path(path)
    if path.is_dir():
        return path
    missing = []
    p = path.parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    if missing:
        (path / _CREATED).write_text("".join(f"{m}\n" for m in missing))
    return path


def prune_owned_dir(path: Path) -> bool:
    """Remove `path` if it holds nothing but onboard's bookkeeping, then the parents it
    created. True when it is gone."""
    path = Path(path)
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return True
    if [n for n in names if n != _CREATED]:
        return False
    marker = path / _CREATED
    parents = marker.read_text().split() if marker.exists() else []
    try:
        marker.unlink()
    except FileNotFoundError:
        pass
    try:
        path.rmdir()
    except OSError:
        return False
    for parent in parents:  # innermost first
        try:
            os.rmdir(parent)
        except OSError:
            break
    return True


def prune_empty(path: Path, stop: Path) -> None:
    """Remove empty directories from `path` up to (and including) `stop`."""
    path = Path(path)
    stop = Path(stop)
    while True:
        try:
            path.rmdir()
        except OSError:
            return
        if path == stop or stop not in path.parents:
            return
        path = path.parent
