"""Editors onboard can configure (the editor registry): which of them are installed."""

from __future__ import annotations

from onboard.core.doctor.model import Check, CheckResult, Inputs, check
from onboard.core.integrations.editors.registry import EDITORS


@check("editors", "Editors")
def check_editors(c: Check, inp: Inputs) -> CheckResult:
    found = {prog: inp.which(prog) for e in EDITORS for prog in e.programs}
    found = {k: v for k, v in found.items() if v}
    if not found:
        progs = ", ".join(e.programs[0] for e in EDITORS)
        return c.result("ok", f"none of {progs} found: editor setup will be skipped", found={})
    names = ", ".join(e.label for e in EDITORS if any(p in found for p in e.programs))
    return c.result("ok", f"{names}: onboard can point them at the project's environment", found=found)
