"""What onboard has done on this machine (receipts) plus facts other capabilities add."""

from __future__ import annotations

import importlib
from typing import Any

from onboard.core.engine.receipt import list_receipts

#: modules offering `status_facts() -> dict` (e.g. the active profile per project)
STATUS_PROVIDERS = ("onboard.core.profiles.status", "onboard.core.services.status")


def collect_status() -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for modname in STATUS_PROVIDERS:
        mod = importlib.import_module(modname)
        extra.update(mod.status_facts())
    return {"receipts": [r.summary() for r in list_receipts()], "extra": extra}
