"""Prove the install works: the installed Nix builds a small derivation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.nixinstall.actions.common import nix_env, run_nix


SELF_TEST_EXPR = ('derivation {{ name = "onboard-self-test"; system = builtins.currentSystem; '
                  'builder = "/bin/sh"; args = [ "-c" "echo {nonce} > $out" ]; }}')


@register
@dataclass
class SelfTest(Action):
    """Prove the install works: the installed Nix builds a small derivation (through the daemon
    in daemon mode), and the result is deleted again."""

    kind = "nix-self-test"
    bindir: str = ""
    daemon: bool = False
    home: str = ""
    summary: str = ""

    def id(self) -> str:
        return f"{self.kind}:{'daemon' if self.daemon else 'local'}"

    def describe(self) -> str:
        how = "through nix-daemon" if self.daemon else "with the local store"
        return self.summary or f"prove Nix works: build a small derivation {how}"

    def paths(self) -> list[str]:
        return []

    def check(self, ctx: Context) -> bool:
        return False  # the proof is running it

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        nonce = os.urandom(8).hex()
        env = nix_env(self.home, daemon=self.daemon)
        expr = SELF_TEST_EXPR.format(nonce=nonce)
        try:
            drv = run_nix(ctx, [f"{self.bindir}/nix-instantiate", "-E", expr], env).stdout.strip()
            drv = drv.splitlines()[-1] if drv else ""
            out = run_nix(ctx, [f"{self.bindir}/nix-store", "--realise", drv], env).stdout.strip()
        except ActionError as exc:
            raise ActionError(f"the installed Nix could not build a test derivation: {exc}",
                              hint="read the log lines above; in containers without user namespaces "
                                   "set `sandbox = false` in nix.conf") from exc
        out = out.splitlines()[-1] if out else ""
        try:
            got = Path(out).read_text().strip()
        except OSError:
            got = ""
        if got != nonce:
            raise ActionError(f"the test build produced {out or 'nothing'} without the expected content")
        ctx.log(f"self-test ok: built {out}")
        run_nix(ctx, [f"{self.bindir}/nix-store", "--delete", out, drv], env, check=False)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        return {"preexisting": True}  # nothing to undo: the test build was deleted

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        """Nothing to undo."""
