"""What a built environment was built from, as `onboard verify` records it: the profile after
`extends` (without this machine's paths) and the SHA-256 of each rendered file.

The build writes them next to the manifest (`facts.json`), from the profile it just loaded
and rendered. While the environment's identity holds (the same stats-then-hashes check the
warm shell makes), they are still true, so verify reads them instead of loading the profile's
YAML and rendering it again. JSON only: reading this imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any, Optional

from onboard.core.profiles import cache

if TYPE_CHECKING:
    from onboard.core.profiles.model import Profile

FACTS = "facts.json"


def profile_doc(profile: "Profile", root: Optional[str]) -> dict:
    """The profile after `extends`, without the machine's paths."""
    from dataclasses import asdict

    d = asdict(profile)
    for k in ("path", "sources", "warnings", "extends"):
        d.pop(k, None)
    py = d.get("python")
    if isinstance(py, dict):
        for k in ("selection", "lock_inputs"):
            py.pop(k, None)
        for k in ("lock", "requirements"):
            if py.get(k) and root and os.path.isabs(py[k]):
                py[k] = os.path.relpath(py[k], root)
    loaded: dict = json.loads(json.dumps(d, default=str))
    return loaded


def file_hashes(files: dict[str, str]) -> dict[str, str]:
    return {rel: hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
            for rel, text in sorted(files.items())}


def facts_of(profile: "Profile", root: Optional[str], files: dict[str, str], rendered: str) -> dict[str, Any]:
    """`files`: the rendered files, whose digest is `rendered` (the manifest's)."""
    from dataclasses import asdict

    return {"rendered": rendered, "files": file_hashes(files), "profile": profile_doc(profile, root),
            "pin": asdict(profile.nixpkgs)}


def override_hash(override: str) -> str:
    """The NAR hash (SRI) of a package set that replaces nixpkgs (ONBOARD_NIXPKGS_OVERRIDE), as
    Nix computes it, or "" when Nix cannot."""
    import subprocess

    try:
        r = subprocess.run(["nix", "--extra-experimental-features", "nix-command", "hash", "path", "--type",
                            "sha256", "--base64", override], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return ""
    return "sha256-" + r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else ""


def write_facts(directory: str, profile: "Profile", root: Optional[str], files: dict[str, str], rendered: str,
                override: str = "", override_digest: Optional[str] = None) -> None:
    """`override`: the package set the build used in place of nixpkgs; its hash is recorded
    now, since what the directory holds later may have changed. `override_digest`: that hash
    when already known ("" for unknown: then none is recorded and Nix is not asked)."""
    facts = facts_of(profile, root, files, rendered)
    if override and os.path.isdir(override):
        digest = override_hash(override) if override_digest is None else override_digest
        if digest:
            facts["override_hash"] = digest
    cache.write_atomic(os.path.join(directory, FACTS), json.dumps(facts, sort_keys=True) + "\n")


def read_facts(directory: str, rendered: str) -> Optional[dict[str, Any]]:
    """The facts of the environment in `directory` whose rendered digest is `rendered`, or None
    (none written, unreadable, or of another build)."""
    try:
        with open(os.path.join(directory, FACTS), encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("rendered") != rendered or not isinstance(doc.get("profile"), dict):
        return None
    return doc
