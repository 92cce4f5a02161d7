"""The change engine: Actions, Plans, the write-ahead receipt, the apply lock."""

from onboard.core.engine.action import Action, ActionError, Context, action_from_dict, register
from onboard.core.engine.plan import Plan, apply_plan, revert_receipt, CancelToken
from onboard.core.engine.receipt import Receipt, list_receipts, load_receipt
from onboard.core.engine.lock import ApplyLock, LockedError

__all__ = [
    "Action", "ActionError", "Context", "action_from_dict", "register", "Plan", "apply_plan",
    "revert_receipt", "CancelToken", "Receipt", "list_receipts", "load_receipt", "ApplyLock",
    "LockedError",
]
