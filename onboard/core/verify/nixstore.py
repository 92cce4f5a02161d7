"""Asking Nix about store paths: their closure with NAR hashes, and whether their contents
still match what the store's database says (Nix's own check, never a copy of it).

The JSON of `nix path-info --json` is a list of objects with "path" up to Nix 2.18 and an
object keyed by path after; a NAR hash is `sha256:<nix32>` or SRI `sha256-<base64>`. Both are
read; every hash is kept in SRI form.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import subprocess

NIX_FLAGS = ["--extra-experimental-features", "nix-command"]
_NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"
_HASH_LEN = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}


class NixError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def nix32_decode(text: str, size: int) -> bytes:
    """Nix's base-32 (its own alphabet, least significant digit last) to bytes."""
    out = bytearray(size)
    for n in range(len(text)):
        digit = _NIX32.index(text[len(text) - n - 1])
        b = n * 5
        i, j = b // 8, b % 8
        out[i] |= (digit << j) & 0xFF
        if i + 1 < size:
            out[i + 1] |= digit >> (8 - j)
    return bytes(out)


def sri(value: str) -> str:
    """A hash as `algo-<base64>`, from `algo:<nix32>`, `algo:<hex>` or SRI; unknown forms unchanged."""
    if "-" in value and ":" not in value:
        return value
    algo, _, digest = value.partition(":")
    size = _HASH_LEN.get(algo)
    if not size or not digest:
        return value
    try:
        if len(digest) == size * 2 and all(c in "0123456789abcdef" for c in digest):
            raw = bytes.fromhex(digest)
        else:
            raw = nix32_decode(digest, size)
    except ValueError:
        return value
    return f"{algo}-{base64.b64encode(raw).decode()}"


def path_infos(doc: Any) -> dict[str, dict]:
    """path -> its info, from either JSON shape of `nix path-info --json`."""
    items: list[tuple[str, Any]] = []
    if isinstance(doc, list):
        items = [(str(o.get("path", "")), o) for o in doc if isinstance(o, dict)]
    elif isinstance(doc, dict):
        items = list(doc.items())
    out: dict[str, dict] = {}
    for path, info in items:
        if path and isinstance(info, dict):
            out[path] = info
    return out


_NAME = re.compile(r"^/nix/store/[0-9a-z]{32}-(.+)$")


def name_version(path: str) -> tuple[str, str]:
    """(name, version) from a store path's name, split as Nix's parseDrvName does: at the first
    "-" followed by a character that is not a letter. Outputs (`-dev`, `-lib`) stay in the name."""
    m = _NAME.match(path)
    full = m.group(1) if m else os.path.basename(path)
    for i, c in enumerate(full):
        if c == "-" and i + 1 < len(full) and not full[i + 1].isalpha():
            return full[:i], full[i + 1:]
    return full, ""


class Closure:
    def __init__(self) -> None:
        self.paths: dict[str, str] = {}  # store path -> NAR hash (SRI)
        self.derivers: dict[str, str] = {}  # root -> its .drv


def _nix(*args: str) -> list[str]:
    return ["nix", *NIX_FLAGS, *args]


def start_closure(roots: list[str]) -> subprocess.Popen:
    import subprocess  # (only when verify/early.py did not start it: a share of the start-up)

    return subprocess.Popen(_nix("path-info", "-r", "--json", *roots), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish_closure(proc: Any, roots: list[str]) -> Closure:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise NixError(f"Nix could not list the closure: {err.strip().splitlines()[-1:] or ['no reason given']}"[:400],
                       "run `onboard shell` to build the environment again")
    try:
        infos = path_infos(json.loads(out))
    except ValueError:
        raise NixError("Nix gave a closure this onboard cannot read", "report the Nix version you use") from None
    c = Closure()
    for path in sorted(infos):
        c.paths[path] = sri(str(infos[path].get("narHash", "")))
    for r in roots:
        d = infos.get(r, {}).get("deriver")
        if d:
            c.derivers[r] = str(d)
    return c


def closure(roots: list[str]) -> Closure:
    return finish_closure(start_closure(roots), roots)


def has_store_verify(nixversion: str) -> bool:
    """`nix store verify` exists from Nix 2.4 on (before: `nix verify`; `nix-store --verify-path` always)."""
    m = re.search(r"(\d+)\.(\d+)", nixversion)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (2, 4)


_MODIFIED = re.compile(r"path '(/nix/store/[^']+)' was modified")
_MISSING = re.compile(r"path '(/nix/store/[^']+)' (?:disappeared|is not valid|does not exist)")


def _popen(argv: list[str]) -> subprocess.Popen:
    import subprocess

    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Jobs:
    """Nix's three questions about an environment, asked side by side: the closure with NAR
    hashes, the check of its contents, the NAR hash of an overriding package set."""

    def __init__(self, roots: list[str], query: Optional[Any] = None, verify: Optional[Any] = None,
                 hashing: Optional[Any] = None, per_path: bool = False, check: bool = True,
                 override: str = "") -> None:
        self.roots = roots
        self.query = query  # a subprocess.Popen, or early.Spawned (the same calls)
        self.verify, self.hashing = verify, hashing
        self.per_path, self.check, self.override = per_path, check, override

    @classmethod
    def start(cls, roots: list[str], nixversion: str, override: str = "", check: bool = True,
              hash_override: bool = True) -> "Jobs":
        j = cls(roots, check=check, override=override)
        j.query = start_closure(roots)
        if check and has_store_verify(nixversion):
            j.verify = _popen(_nix("store", "verify", "--no-trust", "-r", *roots))
        else:
            j.per_path = check
        if hash_override and override and os.path.isdir(override):
            j.hashing = _popen(_nix("hash", "path", "--type", "sha256", "--base64", override))
        return j

    def kill(self) -> None:
        for p in (self.query, self.verify, self.hashing):
            if p is not None and p.poll() is None:
                p.kill()
                p.communicate()

    def closure(self) -> Closure:
        assert self.query is not None
        return finish_closure(self.query, self.roots)

    def override_hash(self) -> str:
        if self.hashing is None and self.override and os.path.isdir(self.override):
            self.hashing = _popen(_nix("hash", "path", "--type", "sha256", "--base64", self.override))
        if self.hashing is None:
            return ""
        out, _err = self.hashing.communicate()
        if self.hashing.returncode != 0:
            raise NixError("Nix could not hash the package set ONBOARD_NIXPKGS_OVERRIDE names",
                           "point ONBOARD_NIXPKGS_OVERRIDE at a readable directory")
        return "sha256-" + out.strip()

    def problems(self, paths: list[str]) -> dict[str, str]:
        """store path -> what is wrong with it (empty when the closure is intact)."""
        bad: dict[str, str] = {}
        if self.per_path:
            import subprocess

            for p in paths:
                r = subprocess.run(["nix-store", "--verify-path", p], capture_output=True, text=True)
                if r.returncode != 0:
                    bad[p] = "its contents do not match the NAR hash the store recorded"
            return bad
        if self.verify is None:
            return bad
        _out, err = self.verify.communicate()
        for line in err.splitlines():
            m = _MODIFIED.search(line)
            if m:
                bad[m.group(1)] = "its contents do not match the NAR hash the store recorded"
                continue
            m = _MISSING.search(line)
            if m:
                bad[m.group(1)] = "it is missing from the store"
        if self.verify.returncode != 0 and not bad:
            bad["(closure)"] = "Nix could not check it: " + (err.strip().splitlines() or ["no reason given"])[-1]
        return bad


def take_early(roots: list[str], check: bool, override: str) -> Optional[Jobs]:
    """The jobs verify/early.py started for exactly these questions, or None."""
    from onboard.core.verify import early

    for item in early.STARTED:
        r, c, o, procs = item
        if r == roots and c == check and o == override:
            early.STARTED.remove(item)
            return Jobs(roots, query=procs["query"], verify=procs.get("verify"), check=check, override=override)
    return None


def nix_version() -> str:
    import subprocess

    try:
        r = subprocess.run(["nix", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout.strip()
