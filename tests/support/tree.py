"""Byte-for-byte snapshots of directory trees, for 'leaves nothing behind' assertions."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def snapshot(root: Path, ignore: tuple[str, ...] = ()) -> dict[str, tuple]:
    """relative path -> (kind, content or link target, mode) for everything under root."""
    root = Path(root)
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if any(rel_dir == i or rel_dir.startswith(i + os.sep) for i in ignore):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel in ignore:
                continue
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full), 0)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", b"", mode)
            else:
                with open(full, "rb") as fh:
                    out[rel] = ("file", fh.read(), mode)
    return out


def diff(before: dict, after: dict) -> list[str]:
    lines = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            lines.append(f"- {k}")
        elif k not in before:
            lines.append(f"+ {k}")
        elif before[k] != after[k]:
            lines.append(f"~ {k}: {before[k]!r:.120} -> {after[k]!r:.120}")
    return lines
