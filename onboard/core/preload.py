"""Import a slow module on the other core while the user reads the plan (or while the
first actions run), so the action that needs it does not wait for it."""

from __future__ import annotations

import importlib
import threading


def preload(*modules: str) -> threading.Thread:
    def work() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the action that needs it reports the real error
                pass

    t = threading.Thread(target=work, name="onboard-preload", daemon=True)
    t.start()
    return t
