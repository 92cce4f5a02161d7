"""Undo what one failed run changed, so a failed install leaves nothing half-installed.

Only entries this run started are reverted (newest first); what earlier runs finished stays,
as the receipt says. A receipt left with nothing owned is deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from onboard.core.engine.action import Context
from onboard.core.engine.lock import ApplyLock
from onboard.core.engine.receipt import Receipt, load_receipt
from onboard.core.events import (ActionFailed, ActionFinished, ActionStarted, Emitter, PlanFinished,
                                 PlanStarted, discard)


def owned_ids(name: str) -> set[str]:
    """Ids of the entries a receipt already owns (before a run starts)."""
    r = load_receipt(name)
    return {e.id for e in r.entries if e.owned} if r else set()


def rollback_run(name: str, before: set[str], emit: Emitter = discard, lock: bool = True) -> list[str]:
    """Revert the entries of receipt `name` that became owned after `before`; return errors."""
    receipt = load_receipt(name)
    if receipt is None:
        return []
    todo = [e for e in reversed(receipt.entries) if e.owned and e.id not in before]
    locker = ApplyLock() if lock else None
    if locker:
        locker.acquire()
    errors: list[str] = []
    try:
        emit(PlanStarted(plan=name, total=len(todo), mode="revert"))
        ctx = Context(emit=emit, backup_dir=receipt.backup_dir())
        for i, entry in enumerate(todo):
            ctx.action_id = entry.id
            emit(ActionStarted(index=i, total=len(todo), action_id=entry.id,
                               description="undo: " + entry.description))
            try:
                action = entry.action()
                entry.state = "reverting"
                receipt.save()
                action.revert(ctx, entry.record)
                _drop_backup(entry.record)
                entry.state, entry.record, entry.error = "pending", {}, ""
                receipt.save()
                emit(ActionFinished(action_id=entry.id, status="reverted"))
            except Exception as exc:
                entry.state, entry.error = "revert-failed", str(exc)
                receipt.save()
                errors.append(f"{entry.description}: {exc}")
                emit(ActionFailed(action_id=entry.id, error=str(exc), hint=getattr(exc, "hint", "")))
        if not errors and not any(e.owned for e in receipt.entries):
            receipt.delete()
        elif not errors:
            receipt.status = "applied" if all(e.state == "done" for e in receipt.entries if e.owned) \
                else "failed"
            receipt.save()
        emit(PlanFinished(plan=name, status="failed" if errors else "ok", errors=errors))
    finally:
        if locker:
            locker.release()
    return errors


def _drop_backup(record: dict) -> None:
    b: Optional[str] = record.get("backup")
    if b:
        try:
            Path(b).unlink()
        except FileNotFoundError:
            pass
