"""Plans: ordered actions, applied with a write-ahead receipt and reverted from it."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from onboard.core.engine.action import Action, ActionError, Context, action_from_dict
from onboard.core.engine.lock import ApplyLock
from onboard.core.engine.receipt import Entry, Receipt, load_receipt
from onboard.core.events import (ActionFailed, ActionFinished, ActionStarted, Emitter, Notice,
                                 PlanFinished, PlanStarted, discard)


class CancelToken:
    """Asks a running apply to stop at the next action boundary (never mid-action)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class Plan:
    name: str
    actions: list[Action] = field(default_factory=list)
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, *actions: Action) -> "Plan":
        self.actions.extend(actions)
        return self

    def extend(self, other: "Plan") -> "Plan":
        self.actions.extend(other.actions)
        return self

    @property
    def needs_root(self) -> bool:
        return any(a.needs_root for a in self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "meta": self.meta,
                "actions": [dict(a.to_dict(), id=a.id(), description=a.describe(), paths=a.paths())
                            for a in self.actions]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        return cls(name=data["name"], title=data.get("title", ""), meta=data.get("meta", {}),
                   actions=[action_from_dict(a) for a in data.get("actions", [])])


@dataclass
class Outcome:
    status: str  # ok | failed | cancelled
    errors: list[str] = field(default_factory=list)
    receipt: Optional[Receipt] = None
    failed_action: str = ""
    hint: str = ""
    #: ids of the receipt's entries that earlier runs already owned: "undo this run" leaves them
    owned_before: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _entry_for(action: Action) -> Entry:
    return Entry(id=action.id(), kind=action.kind, params=action.to_dict()["params"],
                 description=action.describe(), paths=action.paths())


def _drop_backup(record: dict[str, Any]) -> None:
    b = record.get("backup")
    if b:
        try:
            Path(b).unlink()
        except (FileNotFoundError, IsADirectoryError):
            shutil.rmtree(b, ignore_errors=True)


def preview(plan: Plan, emit: Emitter = discard) -> list[dict[str, Any]]:
    """Dry run: what each action would do, from checks only. Changes nothing."""
    rows = []
    ctx = Context(emit=emit, dry_run=True)
    emit(PlanStarted(plan=plan.name, total=len(plan.actions), mode="preview"))
    for i, action in enumerate(plan.actions):
        ctx.action_id = action.id()
        emit(ActionStarted(index=i, total=len(plan.actions), action_id=action.id(),
                           description=action.describe()))
        try:
            done = action.check(ctx)
        except Exception as exc:  # a check that cannot run is reported, not fatal
            done = False
            emit(Notice(message=f"check failed: {exc}", action_id=action.id()))
        status = ("note" if not action.changes_machine else "already" if done else "would-do")
        rows.append({"id": action.id(), "description": action.describe(), "paths": action.paths(),
                     "status": status, "needs_root": action.needs_root})
        emit(ActionFinished(action_id=action.id(), status=status))
    emit(PlanFinished(plan=plan.name, status="ok"))
    return rows


def apply_plan(plan: Plan, emit: Emitter = discard, cancel: Optional[CancelToken] = None,
               lock: bool = True) -> Outcome:
    """Apply a plan. Safe to run again: it checks the machine and repairs what drifted."""
    locker = ApplyLock() if lock else None
    if locker:
        locker.acquire()
    try:
        return _apply(plan, emit, cancel)
    finally:
        if locker:
            locker.release()


def _apply(plan: Plan, emit: Emitter, cancel: Optional[CancelToken]) -> Outcome:
    receipt = load_receipt(plan.name) or Receipt(name=plan.name, title=plan.title)
    owned_before = frozenset(e.id for e in receipt.entries if e.owned)
    receipt.meta.update(plan.meta)
    # Notes are said once, as notices; they are not steps: no receipt entry, not counted.
    steps = [a for a in plan.actions if a.changes_machine]
    # Merge: every planned step gets an entry; earlier entries not in this plan stay
    # (they are still on the machine and uninstall must see them).
    for action in steps:
        if receipt.entry(action.id()) is None:
            receipt.entries.append(_entry_for(action))
    receipt.status = "applying"
    receipt.save()
    total = len(steps)
    emit(PlanStarted(plan=plan.name, total=total))
    ctx = Context(emit=emit, backup_dir=receipt.backup_dir())
    for note in plan.actions:
        if not note.changes_machine:
            ctx.action_id = note.id()
            note.check(ctx)  # a note's check says it
    outcome = Outcome(status="ok", receipt=receipt, owned_before=owned_before)
    for i, action in enumerate(steps):
        if cancel is not None and cancel.cancelled:
            outcome.status = "cancelled"
            break
        entry = receipt.entry(action.id())
        assert entry is not None
        ctx.action_id = action.id()
        emit(ActionStarted(index=i, total=total, action_id=action.id(), description=action.describe()))
        try:
            status = _apply_one(action, entry, receipt, ctx)
        except KeyboardInterrupt:
            if entry.state == "started":
                entry.state = "failed"
            entry.error = "interrupted"
            receipt.status = "cancelled"
            receipt.save()
            emit(ActionFailed(action_id=action.id(), error="interrupted"))
            emit(PlanFinished(plan=plan.name, status="cancelled"))
            raise
        except Exception as exc:  # every failure is recorded; the receipt stays revertable
            hint = getattr(exc, "hint", "")
            msg = str(exc) if isinstance(exc, ActionError) else f"{type(exc).__name__}: {exc}"
            if entry.state == "started":  # it may have changed something: revert must see it
                entry.state = "failed"
            entry.error = msg  # a failure before the journaled start changed nothing
            receipt.save()
            emit(ActionFailed(action_id=action.id(), error=msg, hint=hint))
            outcome.status, outcome.failed_action, outcome.hint = "failed", action.id(), hint
            outcome.errors.append(msg)
            break
        emit(ActionFinished(action_id=action.id(), status=status))
    receipt.status = {"ok": "applied"}.get(outcome.status, outcome.status)
    receipt.save()
    emit(PlanFinished(plan=plan.name, status=outcome.status, errors=outcome.errors))
    return outcome


def _apply_one(action: Action, entry: Entry, receipt: Receipt, ctx: Context) -> str:
    if entry.state == "done":
        if action.check(ctx):
            return "skipped"
        old = entry.record
        if not old.get("preexisting") and action.repair_keeps_snapshot(ctx, old):
            # The plan changed (new content) and what onboard left is untouched: the prior
            # state recorded the first time is still the one to return to.
            record = {k: v for k, v in old.items() if k != "post"}
        else:
            # Drift: someone changed or removed it. Repair from a fresh snapshot.
            record = action.snapshot(ctx)
            _drop_backup(old)
    elif entry.state in ("started", "failed", "reverting", "revert-failed") and entry.record:
        # Resume after a crash or failure: the snapshot taken before the first attempt is
        # the true prior state.
        record = entry.record
        if action.check(ctx):
            entry.state = "started"
            record.update(action.settle(ctx, record))
            entry.state = "done"
            receipt.save()
            return "done"
    else:
        if action.check(ctx):
            entry.state, entry.record = "done", {"preexisting": True}
            receipt.save()
            return "skipped"
        record = action.snapshot(ctx)
    fresh = _entry_for(action)  # the receipt describes what is really applied
    entry.params, entry.description, entry.paths = fresh.params, fresh.description, fresh.paths
    entry.state, entry.record, entry.error = "started", record, ""
    receipt.save()  # write-ahead: intent + prior state are durable before anything changes
    action.execute(ctx, record)
    record.update(action.settle(ctx, record))
    entry.state = "done"
    receipt.save()
    return "done"


def revert_receipt(receipt: Receipt, emit: Emitter = discard, lock: bool = True,
                   dry_run: bool = False, only: Optional[Callable[[Entry], bool]] = None) -> Outcome:
    """Undo what a receipt says onboard did, in reverse order, collecting all errors.

    `only` picks the entries to undo (e.g. just what a failed run changed); the receipt is
    deleted once nothing in it is owned any more."""
    locker = ApplyLock() if (lock and not dry_run) else None
    if locker:
        locker.acquire()
    try:
        return _revert(receipt, emit, dry_run, only)
    finally:
        if locker:
            locker.release()


def undo_run(outcome: Outcome, emit: Emitter = discard, lock: bool = True,
             dry_run: bool = False) -> Outcome:
    """Undo what one run changed (what its receipt owns now and did not own before the run):
    a failed install leaves nothing half-installed, and what earlier runs finished stays.
    The one "undo this run" of every front end."""
    receipt = outcome.receipt
    if receipt is None:
        return Outcome(status="ok")
    before = outcome.owned_before
    return revert_receipt(receipt, emit=emit, lock=lock, dry_run=dry_run,
                          only=lambda e: e.id not in before)


def this_run_changes(outcome: Outcome) -> list[Entry]:
    """The entries "undo this run" would revert: owned now, not before, and begun (done, or
    started with a snapshot; a step that failed before its snapshot changed nothing)."""
    receipt = outcome.receipt
    if receipt is None:
        return []
    return [e for e in receipt.entries if e.owned and e.id not in outcome.owned_before
            and (e.state == "done" or bool(e.record))]


def _revert(receipt: Receipt, emit: Emitter, dry_run: bool,
            only: Optional[Callable[[Entry], bool]] = None) -> Outcome:
    todo = [e for e in reversed(receipt.entries) if e.owned and (only is None or only(e))]
    emit(PlanStarted(plan=receipt.name, total=len(todo), mode="revert"))
    ctx = Context(emit=emit, backup_dir=receipt.backup_dir(), dry_run=dry_run)
    outcome = Outcome(status="ok", receipt=receipt)
    if not dry_run:
        receipt.status = "reverting"
        receipt.save()
    for i, entry in enumerate(todo):
        ctx.action_id = entry.id
        emit(ActionStarted(index=i, total=len(todo), action_id=entry.id,
                           description="undo: " + entry.description))
        if dry_run:
            emit(ActionFinished(action_id=entry.id, status="would-revert"))
            continue
        try:
            action = entry.action()
            entry.state = "reverting"
            receipt.save()
            action.revert(ctx, entry.record)
            _drop_backup(entry.record)
            entry.state = "reverted"
            receipt.save()
            emit(ActionFinished(action_id=entry.id, status="reverted"))
        except Exception as exc:
            msg = f"{entry.description}: {exc}"
            entry.state, entry.error = "revert-failed", str(exc)
            receipt.save()
            emit(ActionFailed(action_id=entry.id, error=str(exc), hint=getattr(exc, "hint", "")))
            outcome.errors.append(msg)
    if dry_run:
        emit(PlanFinished(plan=receipt.name, status="ok"))
        return outcome
    if outcome.errors:
        outcome.status = "failed"
        receipt.status = "revert-failed"
        receipt.save()
    elif any(e.owned for e in receipt.entries):  # a partial revert: the rest stays recorded
        receipt.status = "applied" if all(e.state == "done" for e in receipt.entries if e.owned) \
            else "failed"
        receipt.save()
    else:
        receipt.delete()
    emit(PlanFinished(plan=receipt.name, status=outcome.status, errors=outcome.errors))
    return outcome
