"""Prove the install works: the installed Nix builds a small derivation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.nixinstall import layout
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
    #: a Nix onboard adopted (not its own): prove it works without writing to its store or state
    read_only: bool = False
    summary: str = ""

    def id(self) -> str:
        return f"{self.kind}:{'daemon' if self.daemon else 'local'}"

    def describe(self) -> str:
        if self.read_only:
            return self.summary or ("prove the Nix here works without changing it: evaluate a derivation"
                                    + (" and ask nix-daemon" if self.daemon else ""))
        how = "through nix-daemon" if self.daemon else "with the local store"
        return self.summary or f"prove Nix works: build a small derivation {how}"

    def paths(self) -> list[str]:
        return []

    def check(self, ctx: Context) -> bool:
        return False  # the proof is running it

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if self.read_only:
            self._prove_read_only(ctx)
            return
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

    def _prove_read_only(self, ctx: Context) -> None:
        """A build would leave traces in a Nix that is not onboard's (its database, a build log, the
        garbage collector's socket): evaluate a derivation in read-only mode instead, and in daemon
        mode ask the daemon for its store."""
        db = os.path.join(layout.STATE, "db")
        if not os.path.exists(os.path.join(db, "db.sqlite")):
            ctx.log("self-test not run: the Nix here has no store database yet, and its first run would "
                    "create one")
            return
        reserved = os.path.join(db, "reserved")  # made again on every start of the store when it is gone
        had_reserved = os.path.lexists(reserved)
        env = nix_env(self.home, daemon=self.daemon)
        expr = SELF_TEST_EXPR.format(nonce=os.urandom(8).hex())
        try:
            out = run_nix(ctx, [f"{self.bindir}/nix-instantiate", "--readonly-mode", "--eval", "--strict", "-E",
                                f"({expr}).drvPath"], env).stdout.strip()
            if self.daemon and os.path.exists(f"{self.bindir}/nix"):
                run_nix(ctx, [f"{self.bindir}/nix", "--extra-experimental-features", "nix-command", "store",
                              "ping"], env)
        except ActionError as exc:
            raise ActionError(f"the Nix here could not evaluate a test derivation: {exc}",
                              hint="read the log lines above; `nix doctor` may say more") from exc
        finally:
            if not had_reserved and os.path.lexists(reserved):
                try:
                    os.unlink(reserved)
                except OSError:
                    pass
        last = out.splitlines()[-1].strip('"') if out else ""
        if not (last.startswith(layout.STORE + "/") and last.endswith("-onboard-self-test.drv")):
            raise ActionError(f"the Nix here evaluated a test derivation to {last or 'nothing'}")
        ctx.log(f"self-test ok: evaluated {last} (read-only)")

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        return {"preexisting": True}  # nothing to undo: the test build was deleted

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        """Nothing to undo."""
