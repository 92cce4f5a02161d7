"""The core: plans, actions, receipts, checks and events.

Nothing under onboard.core prints or imports a UI toolkit (textual, rich); front
ends subscribe to the events it emits. tests/test_core_isolation.py enforces it.

The engine finds action kinds through its registry (onboard.core.engine.kinds); the
loader handed to it here imports onboard.core.action_kinds, the one list of action
modules, and only when a receipt names a kind not registered yet. Importing the core
stays cheap: the registry module imports nothing.
"""

from onboard.core.engine.kinds import set_kind_loader as _set_kind_loader


def _load_action_kinds() -> None:
    from onboard.core import action_kinds

    action_kinds.load()


_set_kind_loader(_load_action_kinds)
