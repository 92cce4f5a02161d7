"""The receipt: a write-ahead journal of a plan's actions.

Each action's intent and pre-state snapshot are written (atomically, fsynced)
before it runs and its result after, so a process killed at any point leaves a
receipt that can be resumed (apply again) or reverted (uninstall). Uninstall and
crash recovery are the same mechanism.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core import paths
from onboard.core.engine.fsutil import atomic_write, remove_stale_tmps

RECEIPT_VERSION = 1

#: pending -> started -> done | failed ; done|started|failed -> reverting -> reverted
STATES = ("pending", "started", "done", "failed", "reverting", "reverted", "revert-failed")


@dataclass
class Entry:
    id: str
    kind: str
    params: dict[str, Any]
    description: str
    paths: list[str] = field(default_factory=list)
    state: str = "pending"
    record: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    updated: float = 0.0

    def action(self):  # -> Action
        from onboard.core.engine.action import action_from_dict

        return action_from_dict({"kind": self.kind, "params": self.params})

    @property
    def owned(self) -> bool:
        """True when onboard changed something here that revert must undo."""
        return self.state in ("started", "done", "failed", "reverting", "revert-failed") and not \
            self.record.get("preexisting")


@dataclass
class Receipt:
    name: str
    title: str = ""
    status: str = "new"  # new | applying | applied | failed | cancelled | reverting | revert-failed
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    onboard_version: str = ""
    entries: list[Entry] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Optional[Path] = field(default=None, repr=False, compare=False)

    @staticmethod
    def location(name: str) -> Path:
        return paths.receipts_dir() / f"{name}.json"

    def backup_dir(self) -> Path:
        return paths.backups_dir() / self.name

    def entry(self, action_id: str) -> Optional[Entry]:
        for e in self.entries:
            if e.id == action_id:
                return e
        return None

    def save(self) -> None:
        from onboard import __version__

        self.updated = time.time()
        self.onboard_version = __version__
        target = self.path or self.location(self.name)
        paths.make_owned_dir(paths.state_dir())
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = asdict(self)
        data.pop("path", None)
        data["version"] = RECEIPT_VERSION
        atomic_write(target, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), mode=0o600)
        self.path = target

    def delete(self) -> None:
        target = self.path or self.location(self.name)
        try:
            target.unlink()
        except FileNotFoundError:
            pass
        remove_stale_tmps(target)
        shutil.rmtree(self.backup_dir(), ignore_errors=True)
        for d in (paths.receipts_dir(), paths.backups_dir()):
            paths.prune_empty(d, d)
        paths.prune_owned_dir(paths.state_dir())

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for e in self.entries:
            counts[e.state] = counts.get(e.state, 0) + 1
        return {"name": self.name, "title": self.title, "status": self.status,
                "created": self.created, "updated": self.updated, "actions": counts,
                "path": str(self.path or self.location(self.name))}


def _from_dict(data: dict[str, Any], path: Path) -> Receipt:
    entries = [Entry(**{k: v for k, v in e.items() if k in Entry.__dataclass_fields__})
               for e in data.get("entries", [])]
    fields = {k: v for k, v in data.items() if k in Receipt.__dataclass_fields__ and k != "entries"}
    r = Receipt(**fields, entries=entries)
    r.path = path
    return r


class ReceiptError(Exception):
    pass


def load_receipt(name_or_path: str | os.PathLike) -> Optional[Receipt]:
    p = Path(name_or_path)
    if p.suffix != ".json":
        p = Receipt.location(str(name_or_path))
    try:
        raw = p.read_text()
    except FileNotFoundError:
        return None
    try:
        return _from_dict(json.loads(raw), p)
    except (ValueError, TypeError) as exc:
        raise ReceiptError(f"{p}: receipt is damaged ({exc}); it was left as it is") from exc


def list_receipts() -> list[Receipt]:
    d = paths.receipts_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.glob("*.json")):
        r = load_receipt(p)
        if r is not None:
            out.append(r)
    out.sort(key=lambda r: r.created)
    return out
