"""onboard's settings in nix.conf, checked with the installed Nix (`nix show-config`)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Optional

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.files import missing_parents
from onboard.core.engine.action import ActionError, Context, register
from onboard.core.engine.fsutil import read_bytes, sha256_bytes
from onboard.core.nixinstall.actions.common import Preflight, nix_env, unpacked_release


def show_config_problem(nix_bin: str, env: dict[str, str]) -> Optional[str]:
    """Run the installed `nix show-config`; a problem with the configuration, or None."""
    for argv in ([nix_bin, "--extra-experimental-features", "nix-command", "show-config"],
                 [nix_bin, "--extra-experimental-features", "nix-command", "config", "show"]):
        try:
            proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run {nix_bin}: {exc}"
        err = proc.stderr
        if proc.returncode != 0 and re.search(r"show-config.*(not a recogni[sz]ed|unrecognised)", err):
            continue
        bad = [ln for ln in err.splitlines() if "unknown setting" in ln or ln.startswith("error")]
        if proc.returncode != 0 or bad:
            return "\n".join(bad or err.strip().splitlines()[-3:]) or f"exit code {proc.returncode}"
        return None
    return None


@register
@dataclass
class NixConfBlock(Preflight, MarkedBlock):
    """onboard's settings in nix.conf, accepted by the installed Nix (`nix show-config`)."""

    kind = "nix-conf-block"
    nix_bin: str = ""
    home: str = ""
    config_home: str = ""  # XDG_CONFIG_HOME for a user's nix.conf
    staging: str = ""  # else validate with the Nix of the release unpacked here

    def _nix(self) -> str:
        if self.nix_bin and os.path.exists(self.nix_bin):
            return self.nix_bin
        info = unpacked_release(self.staging) if self.staging else None
        return f"{info.nix}/bin/nix" if info else ""

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        self._preflight()
        record = super().snapshot(ctx)
        record["created_dirs"] = missing_parents(record["path"])
        return record

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        super().execute(ctx, record)
        nix = self._nix()
        if not nix:
            return
        extra = {"XDG_CONFIG_HOME": self.config_home} if self.config_home else {}
        problem = show_config_problem(nix, nix_env(self.home, extra=extra))
        if problem:
            record["post"] = sha256_bytes(read_bytes(record["path"]) or b"")
            super().revert(ctx, record)
            for k in ("post", "added_newline"):
                record.pop(k, None)
            raise ActionError(f"the installed Nix rejects the settings for {self.path}: {problem}; "
                              "the file was left as it was",
                              hint="fix the team's substituters / trusted-public-keys and run again")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        super().revert(ctx, record)
