"""Editors onboard can configure: VS Code (or VSCodium), Neovim, Vim, Emacs."""

from __future__ import annotations

from onboard.core.doctor.model import Check, CheckResult, Inputs, check

EDITORS = (("code", "VS Code"), ("codium", "VSCodium"), ("nvim", "Neovim"), ("vim", "Vim"),
           ("emacs", "Emacs"))


@check("editors", "Editors")
def check_editors(c: Check, inp: Inputs) -> CheckResult:
    found = {cmd: inp.which(cmd) for cmd, _ in EDITORS}
    found = {k: v for k, v in found.items() if v}
    if not found:
        return c.result("ok", "none of code, nvim, vim, emacs found: editor setup will be skipped",
                        found={})
    names = ", ".join(label for cmd, label in EDITORS if cmd in found)
    return c.result("ok", f"{names}: onboard can point them at the project's environment", found=found)
