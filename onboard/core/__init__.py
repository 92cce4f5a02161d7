"""The core: plans, actions, receipts, checks and events.

Nothing under onboard.core prints or imports a UI toolkit (textual, rich); front
ends subscribe to the events it emits. tests/test_core_isolation.py enforces it.
"""
