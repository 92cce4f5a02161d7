"""The action kinds the engine knows: kind -> Action class.

A receipt stores each action as its kind and parameters; reverting it (uninstall, crash
recovery, "undo this run") needs the class back from the kind. The engine knows no
capability (the import contract in pyproject.toml), so it cannot import the action modules
itself. Instead:

- every Action class registers itself here with @register when its module is imported;
- onboard.core.action_kinds, outside the engine, is the one list of every module that
  defines actions;
- onboard/core/__init__.py hands the engine a loader (set_kind_loader) that imports that
  list. The engine calls it the first time it meets a kind it does not know, so loading a
  receipt works whoever loads it, and a run that never reads a receipt never imports the
  action modules.

This module imports nothing at run time: onboard.core imports it on every warm path.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing is not free on the warm path
if TYPE_CHECKING:
    from typing import Callable, Optional

    from onboard.core.engine.action import Action

_KINDS: dict[str, type["Action"]] = {}
_loader: Optional[Callable[[], None]] = None
_loaded = False


def register(cls: type["Action"]) -> type["Action"]:
    """Class decorator: make `cls` the class of its `kind` (a kind belongs to one class)."""
    if not cls.kind or cls.kind in _KINDS and _KINDS[cls.kind] is not cls:
        raise ValueError(f"action kind {cls.kind!r} is missing or taken")
    _KINDS[cls.kind] = cls
    return cls


def set_kind_loader(loader: Optional[Callable[[], None]]) -> None:
    """What imports every action module (run once, when a kind is not registered yet)."""
    global _loader, _loaded
    _loader, _loaded = loader, False


def load_kinds() -> None:
    """Run the loader, once."""
    global _loaded
    if _loader is not None and not _loaded:
        _loaded = True
        _loader()


def kind_class(kind: str) -> type["Action"]:
    """The class of an action kind; an ActionError when no module defines it."""
    if kind not in _KINDS:
        load_kinds()
    try:
        return _KINDS[kind]
    except KeyError:
        from onboard.core.engine.action import ActionError

        raise ActionError(f"unknown action kind {kind!r} in receipt",
                          hint="it was written by another version of onboard: revert it with that "
                               "version, or remove the receipt if the change is gone") from None


def registered_kinds() -> dict[str, type["Action"]]:
    """Every registered kind (after loading all of them)."""
    load_kinds()
    return dict(_KINDS)


__all__ = ["register", "set_kind_loader", "load_kinds", "kind_class", "registered_kinds"]
