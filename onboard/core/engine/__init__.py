"""The change engine: Actions, Plans, the write-ahead receipt, the apply lock.

The names below are loaded on first use: onboard.core imports the engine's kind registry
(onboard.core.engine.kinds) on every warm path, and that must not pull in the rest.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing is not free on the warm path
if TYPE_CHECKING:
    from typing import Any

    from onboard.core.engine.action import Action, ActionError, Context, action_from_dict
    from onboard.core.engine.kinds import kind_class, register
    from onboard.core.engine.lock import ApplyLock, LockedError
    from onboard.core.engine.plan import CancelToken, Plan, apply_plan, revert_receipt
    from onboard.core.engine.receipt import Receipt, list_receipts, load_receipt

_WHERE = {
    "Action": "action", "ActionError": "action", "Context": "action", "action_from_dict": "action",
    "register": "kinds", "kind_class": "kinds", "Plan": "plan", "apply_plan": "plan",
    "revert_receipt": "plan", "CancelToken": "plan", "Receipt": "receipt", "list_receipts": "receipt",
    "load_receipt": "receipt", "ApplyLock": "lock", "LockedError": "lock",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
