"""The Nix profile with Nix (and the CA bundle) in it (`nix-env -p PROFILE -i NIX`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from onboard.core.engine.action import Action, Context, register
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.actions.common import need_release, nix_env, run_nix, unpacked_release


@register
@dataclass
class NixProfile(Action):
    """Create the profile with Nix (and the CA bundle) in it: `nix-env -p PROFILE -i NIX`."""

    kind = "nix-profile"
    profile: str = ""
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    home: str = ""
    summary: str = ""

    def target(self) -> str:
        return self.profile

    def describe(self) -> str:
        return self.summary or f"create the profile {self.profile} with Nix in it"

    def check(self, ctx: Context) -> bool:
        if not os.path.islink(self.profile):
            return False
        nix = os.path.join(self.profile, "bin", "nix")
        if not os.path.exists(nix):
            return False
        info = unpacked_release(self.staging, self.store_dir)
        return info is None or os.path.realpath(nix).startswith(info.nix + "/")

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"existed": os.path.lexists(self.profile)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        info = need_release(self.staging, self.store_dir)
        os.makedirs(os.path.dirname(self.profile), exist_ok=True)
        extra = {}
        pkgs = [info.nix]
        if info.cacert:
            pkgs.append(info.cacert)
            extra["NIX_SSL_CERT_FILE"] = f"{info.cacert}/etc/ssl/certs/ca-bundle.crt"
        run_nix(ctx, [f"{info.nix}/bin/nix-env", "-p", self.profile, "-i", *pkgs],
                nix_env(self.home, extra=extra))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record or record.get("existed"):
            return
        d, base = os.path.split(self.profile)
        if not os.path.isdir(d):
            return
        for name in os.listdir(d):
            if name == base or re.fullmatch(re.escape(base) + r"-\d+-link", name):
                full = os.path.join(d, name)
                if os.path.islink(full):
                    os.unlink(full)
