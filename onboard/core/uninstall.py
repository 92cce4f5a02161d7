"""Uninstall: revert every receipt (newest first), then the extra state onboard keeps.

Extras are provided by capabilities as `cleanup_items() -> list[CleanupItem]` in the
modules listed in EXTRA_PROVIDERS (profile caches and GC roots, onboard's own venv).
The services of every project are stopped first (their records live in the state the
profile capability removes), and their data directories are deleted only with
`delete_data`: otherwise they are listed, with their size, as kept.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from onboard.core.engine.plan import Outcome, revert_receipt
from onboard.core.engine.receipt import Receipt, list_receipts
from onboard.core.events import Emitter, discard

EXTRA_PROVIDERS = (
    "onboard.core.profiles.cleanup",
    "onboard.core.nixinstall.actions.fetch_tarball",
    "onboard.core.selfinstall",
)


@dataclass
class CleanupItem:
    description: str
    paths: list[str]
    remove: Callable[[], None]
    last: bool = False  # run after everything else (removing onboard itself)
    first: bool = False  # run before the receipts are reverted (stopping services)


@dataclass
class UninstallPlan:
    receipts: list[Receipt] = field(default_factory=list)
    extras: list[CleanupItem] = field(default_factory=list)
    kept_data: list[Any] = field(default_factory=list)  # services.cleanup.DataDir: not deleted

    def kept_rows(self) -> list[dict]:
        return [dict(d.to_dict(), description=f"keep the data of service {d.service} of {d.project}")
                for d in self.kept_data]

    def rows(self) -> list[dict]:
        out = [{"receipt": "", "id": "cleanup", "description": x.description, "paths": x.paths,
                "state": "present"} for x in self.extras if x.first]
        for r in self.receipts:
            for e in reversed(r.entries):
                if e.owned:
                    out.append({"receipt": r.name, "id": e.id, "description": "undo: " + e.description,
                                "paths": e.paths, "state": e.state})
        for x in self.extras:
            if x.first:
                continue
            out.append({"receipt": "", "id": "cleanup", "description": x.description, "paths": x.paths,
                        "state": "present"})
        return out

    @property
    def empty(self) -> bool:
        return not self.receipts and not self.extras


def plan_uninstall(include_self: bool = True, delete_data: bool = False) -> UninstallPlan:
    from onboard.core.services import cleanup as services_cleanup

    plan = UninstallPlan(receipts=list(reversed(list_receipts())))
    stop_and_data, plan.kept_data = services_cleanup.cleanup_items(delete_data)
    plan.extras.extend(stop_and_data)
    for modname in EXTRA_PROVIDERS:
        if modname.endswith("selfinstall") and not include_self:
            continue
        mod = importlib.import_module(modname)
        plan.extras.extend(mod.cleanup_items())
    plan.extras.extend(_logs_item())
    plan.extras.sort(key=lambda x: x.last)
    return plan


def _logs_item() -> list[CleanupItem]:
    """onboard's log files (what a failed run keeps so its message can name one), and the
    folders onboard made for them."""
    import os
    import shutil

    from onboard.core import paths

    logs = paths.log_dir()
    try:
        names = os.listdir(logs)
    except OSError:
        return []
    if not names:
        return []

    def remove() -> None:
        shutil.rmtree(logs)
        paths.prune_owned_dir(paths.state_dir())

    return [CleanupItem(description=f"remove onboard's logs ({len(names)} file"
                                    f"{'' if len(names) == 1 else 's'} in {logs})",
                        paths=[str(logs)], remove=remove)]


def run_uninstall(plan: UninstallPlan, emit: Emitter = discard) -> list[str]:
    """Revert everything; return the errors (empty when all is gone)."""
    errors: list[str] = []

    def run_item(x: CleanupItem) -> None:
        try:
            x.remove()
        except Exception as exc:  # collect and go on: remove as much as possible
            errors.append(f"{x.description}: {exc}")

    for x in plan.extras:
        if x.first:
            run_item(x)
    for r in plan.receipts:
        outcome: Outcome = revert_receipt(r, emit=emit)
        errors.extend(outcome.errors)
    for x in plan.extras:
        if not x.first:
            run_item(x)
    return errors


def clean_leftovers() -> None:
    """Remove what a process killed mid-write leaves in onboard's state dir (temporary files
    of the receipt's atomic writes) and the dirs left empty. Skipped while an apply runs."""
    import os

    from onboard.core import paths
    from onboard.core.engine.fsutil import TMP_SUFFIX
    from onboard.core.engine.lock import ApplyLock, LockedError

    if not paths.state_dir().exists():
        return
    lock = ApplyLock()
    try:
        lock.acquire()
    except LockedError:
        return
    try:
        for d in (paths.receipts_dir(), paths.backups_dir()):
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                if name.startswith(".") and name.endswith(TMP_SUFFIX):
                    try:
                        os.unlink(d / name)
                    except OSError:
                        pass
            paths.prune_empty(d, d)
    finally:
        lock.release()  # also prunes the state dir when nothing else is in it

