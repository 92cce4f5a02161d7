"""The `nixpkgs:` key of a profile: the package set, pinned to exact content.

Either a GitHub commit with the hash of its tree (`rev` + `narHash`, as flake.lock records
them) or a tarball with the hash of its unpacked content (`url` + `sha256`). A branch or
a channel moves, so it is refused with the way to pin it.
"""

from __future__ import annotations

import re
from typing import Optional

from onboard.core.profiles.hashes import sha256_to_sri
from onboard.core.profiles.model import Pin
from onboard.core.schema import Checker, YNode

__all__ = ["PIN_KEYS", "REV_RE", "check_pin", "pin_advice"]

PIN_KEYS = ("rev", "narHash", "owner", "repo", "lastModified", "url", "sha256")
REV_RE = r"[0-9a-f]{40}"

BRANCH_WORDS = re.compile(r"^(nixos|nixpkgs|release|master|main|unstable|stable|staging|HEAD)", re.I)


def pin_advice(ref: str) -> str:
    return (f"`{ref}` is a branch: it moves, so the same profile would give different packages on "
            "different days. Pin the package set to a commit: `rev: <40-hex commit>` and "
            "`narHash: sha256-...`; `nix flake metadata github:NixOS/nixpkgs/"
            f"{ref} --json` prints both (locked.rev, locked.narHash)")


def check_pin(node: Optional[YNode], c: Checker) -> Optional[Pin]:
    if node is None:
        return None
    if node.kind == "scalar" and isinstance(node.value, str):
        v = node.value.strip()
        flake = re.fullmatch(r"(?:github:)?([\w.-]+)/([\w.-]+)/([\w./-]+)", v)
        ref = flake.group(3) if flake else v
        if re.fullmatch(REV_RE, ref):
            c.error(node, "nixpkgs: a commit alone is not a pin: its content hash is needed too; "
                          f"write it as a mapping: `nixpkgs: {{rev: {ref}, narHash: sha256-...}}`")
        elif BRANCH_WORDS.match(ref) or "/" not in ref:
            c.error(node, "nixpkgs: " + pin_advice(ref))
        else:
            c.error(node, "nixpkgs: expected a mapping: `{rev: <40-hex commit>, narHash: sha256-...}` "
                          "or `{url: <tarball URL>, sha256: ...}`")
        return None
    m = c.mapping(node, "nixpkgs")
    if m is None:
        return None
    c.keys(m, PIN_KEYS, "nixpkgs", advice={
        "ref": "a branch or tag moves; " + pin_advice("<branch>").split(". ", 1)[1],
        "branch": "a branch moves; " + pin_advice("<branch>").split(". ", 1)[1],
        "hash": "did you mean `narHash` (with rev) or `sha256` (with url)?",
    })
    keys = set(m.keys())
    if not keys:
        c.error(node, "nixpkgs: empty pin; give `rev` and `narHash` (a nixpkgs commit) "
                      "or `url` and `sha256` (a tarball)")
        return None
    if "url" in keys and keys & {"rev", "owner", "repo", "narHash"}:
        c.error(m, "nixpkgs: give either rev + narHash (a GitHub commit) or url + sha256 (a tarball), not both")
        return None
    if "url" in keys or "sha256" in keys and "rev" not in keys:
        return _tarball_pin(m, c)
    return _github_pin(m, c)


def _hash(node: Optional[YNode], what: str, c: Checker) -> Optional[str]:
    text = c.text(node, what)
    if text is None:
        return None
    sri = sha256_to_sri(text)
    if sri is None:
        if text.startswith(("sha512-", "sha1-", "md5-")):
            c.error(node, f"{what}: only sha256 hashes are used for the package set")
        else:
            c.error(node, f"{what}: `{text}` is not a sha256 hash; expected SRI form `sha256-` + 44 "
                          "base64 characters (as in flake.lock), or Nix's 52-character base32")
    return sri


def _github_pin(m: YNode, c: Checker) -> Optional[Pin]:
    ok = True
    for key in ("rev", "narHash"):
        if m.get(key) is None:
            c.error(m, f"nixpkgs: missing `{key}`; a pin is a commit (rev: 40 hex digits) and the "
                       "hash of its content (narHash: sha256-...)")
            ok = False
    rev_node = m.get("rev")
    rev = c.text(rev_node, "nixpkgs.rev", numbers=True)
    if rev is not None and not re.fullmatch(REV_RE, rev):
        if re.fullmatch(r"[0-9a-fA-F]{40}", rev):
            rev = rev.lower()
        elif re.fullmatch(r"[0-9a-fA-F]{4,39}", rev):
            c.error(rev_node, f"nixpkgs.rev: `{rev}` is a short commit id; give all 40 hex digits")
            rev = None
        elif len(rev) == 40 and re.fullmatch(r"[0-9A-Za-z]{40}", rev):
            bad = next(ch for ch in rev if ch not in "0123456789abcdefABCDEF")
            c.error(rev_node, f"nixpkgs.rev: `{rev}` is not a commit id: a commit id is 40 hexadecimal "
                              f"digits (0-9, a-f), and `{bad}` (character {rev.index(bad) + 1}) is not one; "
                              "copy the commit id again")
            rev = None
        elif BRANCH_WORDS.match(rev) or re.fullmatch(r"[\w./-]+", rev):
            c.error(rev_node, "nixpkgs.rev: " + pin_advice(rev))
            rev = None
        else:
            c.error(rev_node, f"nixpkgs.rev: `{rev}` is not a commit; expected 40 hex digits")
            rev = None
    nar = _hash(m.get("narHash"), "nixpkgs.narHash", c)
    owner = c.text(m.get("owner"), "nixpkgs.owner", pattern=r"[A-Za-z0-9][\w.-]*") if m.get("owner") else "NixOS"
    repo = c.text(m.get("repo"), "nixpkgs.repo", pattern=r"[\w.-]+") if m.get("repo") else "nixpkgs"
    last = c.integer(m.get("lastModified"), "nixpkgs.lastModified", minimum=0)
    if not ok or rev is None or nar is None or owner is None or repo is None:
        return None
    return Pin(kind="github", owner=owner, repo=repo, rev=rev, nar_hash=nar, last_modified=last or 0)


def _tarball_pin(m: YNode, c: Checker) -> Optional[Pin]:
    ok = True
    for key in ("url", "sha256"):
        if m.get(key) is None:
            c.error(m, f"nixpkgs: missing `{key}`; a tarball pin is a URL and the sha256 of its "
                       "unpacked content (what fetchTarball checks)")
            ok = False
    url_node = m.get("url")
    url = c.text(url_node, "nixpkgs.url")
    if url is not None:
        if not re.fullmatch(r"(https?|file)://\S+", url):
            c.error(url_node, f"nixpkgs.url: `{url}` is not an http(s):// or file:// URL")
            url = None
        elif not re.search(r"\.(tar\.gz|tgz|tar\.xz|tar\.bz2|tar\.zst|tar|zip)$", url.split("?")[0]):
            c.error(url_node, "nixpkgs.url: expected a tarball URL ending in .tar.gz, .tar.xz, .tar.bz2, "
                              ".tar.zst, .tar or .zip")
            url = None
        else:
            gh = re.search(r"github\.com/[^/]+/[^/]+/archive/(.+?)\.(tar\.gz|zip)$", url)
            if gh and not re.fullmatch(REV_RE, gh.group(1)):
                c.error(url_node, "nixpkgs.url: " + pin_advice(gh.group(1)))
                url = None
            elif re.search(r"(channels\.nixos\.org|nixos\.org/channels)/[^/]+/nixexprs", url):
                c.error(url_node, "nixpkgs.url: a channel URL always serves the channel's newest "
                                  "release, so its sha256 stops matching; use a release's own URL "
                                  "(releases.nixos.org/...) or pin a commit with rev + narHash")
                url = None
    sha = _hash(m.get("sha256"), "nixpkgs.sha256", c)
    if not ok or url is None or sha is None:
        return None
    return Pin(kind="tarball", url=url, nar_hash=sha, sha256=sha)
