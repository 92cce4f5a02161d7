"""The team config schema: what `onboard.yaml` may say, checked with positions.

`check_document` applies it to one parsed file and returns the `TeamConfig` it describes;
every problem goes to the `Checker` (file:line:col, unknown keys with a did-you-mean).
Finding and loading the file, and applying it to the choices: onboard.core.teamconfig.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import urlsplit

from onboard.core.integrations.editors import registry
from onboard.core.modes import TEAM_MODE_IDS
from onboard.core.profiles.hashes import sha256_to_sri
from onboard.core.profiles.schema import NAME_HINT, NAME_RE
from onboard.core.schema import Checker, Mark, YNode, did_you_mean, suffix
from onboard.core.teamconfig import SYSTEMS, BinaryCache, TeamConfig, split_release_key

__all__ = ["check_document", "check_url", "TOP_KEYS", "NIX_KEYS", "CACHE_KEYS", "PYTHON_KEYS", "LOADERS"]

TOP_KEYS = ("version", "team", "default_profile", "profiles", "nix", "binary_cache", "editors", "loader",
            "python")
NIX_KEYS = ("version", "mirror", "sha256", "mode")
PYTHON_KEYS = ("index_url", "extra_index_urls")
CACHE_KEYS = ("substituters", "trusted_public_keys")
LOADERS = ("direnv", "lorri", "none")
NIX_VERSION_RE = r"\d+\.\d+(\.\d+)?(pre[\w.]*)?"
KEY_RE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+):(?P<key>[A-Za-z0-9+/]+={0,2})$")


def check_document(root: Optional[YNode], file: str, c: Checker) -> TeamConfig:
    """Apply the team config schema to a parsed file; problems go to the Checker `c`."""
    team = TeamConfig(path=str(Path(file).absolute()))
    if root is None:
        c.error(Mark(file, 1, 1), "empty team config: expected a mapping with at least `default_profile`")
        return team
    top = c.mapping(root, "team config")
    if top is None:
        return team
    c.keys(top, TOP_KEYS, "", advice={
        "name": "the team's name is `team`",
        "profile": "the profile new hires get is `default_profile`",
        "profiles_dir": "did you mean `profiles`?",
        "substituters": "put it under `binary_cache:` (with `trusted_public_keys`)",
        "trusted_public_keys": "put it under `binary_cache:` (with `substituters`)",
        "cache": "did you mean `binary_cache`?",
        "direnv": "say how the environment loads with `loader: direnv` (or lorri, none)",
        "lorri": "say how the environment loads with `loader: lorri` (or direnv, none)",
        "nix_version": "put it under `nix:` as `version`",
        "mirror": "put it under `nix:` as `mirror`",
    })

    vnode = top.get("version")
    if vnode is not None:
        v = c.integer(vnode, "version")
        if v is not None and v != 1:
            c.error(vnode, f"version: this onboard reads team config version 1, not {v}; "
                           "update onboard or write `version: 1`")

    name = c.text(top.get("team"), "team", nonempty=True)
    if name is not None:
        if "\n" in name.strip():
            c.error(top.get("team"), "team: the team's name must be one line")
        else:
            team.team = name.strip()

    # profiles: the directory, relative to this file
    base = Path(file).absolute().parent
    pnode = top.get("profiles")
    if pnode is not None:
        rel = c.text(pnode, "profiles", nonempty=True)
        if rel is not None:
            d = (base / os.path.expanduser(rel)).resolve()
            if not d.is_dir():
                c.error(pnode, f"profiles: no such directory: {d} (the path is relative to {file})")
            else:
                team.profiles_dir = str(d)
    elif (base / "profiles").is_dir():
        team.profiles_dir = str((base / "profiles").resolve())

    dnode = top.get("default_profile")
    if dnode is not None:
        prof = c.text(dnode, "default_profile", pattern=NAME_RE,
                      pattern_hint="give a profile's name (its file name without .yaml); " + NAME_HINT)
        if prof is not None:
            if prof.endswith((".yaml", ".yml")):
                prof = prof.rsplit(".", 1)[0]
            if team.profiles_dir:
                names = _profile_names(Path(team.profiles_dir))
                if prof not in names:
                    avail = f"; available: {', '.join(names)}" if names else "; that directory has no profiles"
                    c.error(dnode, f"default_profile: no profile `{prof}` in {team.profiles_dir}"
                                   f"{suffix(prof, names)}{avail}")
                    prof = None
            if prof is not None:
                team.default_profile = prof

    _check_nix(top.get("nix"), team, c)
    _check_cache(top.get("binary_cache"), team, c)
    _check_python(top.get("python"), team, c)

    enode = top.get("editors")
    if enode is not None:
        for value, item in c.text_list(enode, "editors") or []:
            editor = value.strip().lower()
            if editor not in registry.IDS:
                advice = registry.typo_advice().get(editor)
                hint = f"; {advice}" if advice else suffix(editor, registry.IDS)
                c.error(item, f"editors: unknown editor `{value}`{hint} (choose from "
                              f"{', '.join(registry.IDS)})")
            elif editor in team.editors:
                c.warn(item, f"editors: `{editor}` is listed twice")
            else:
                team.editors.append(editor)

    lnode = top.get("loader")
    if lnode is not None:
        loader = _choice(c, lnode, "loader", LOADERS,
                         "how the environment loads when you cd into a project")
        if loader is not None:
            team.loader = loader
    return team


def _profile_names(d: Path) -> list[str]:
    try:
        entries = sorted(os.listdir(d))
    except OSError:
        return []
    return [e.rsplit(".", 1)[0] for e in entries
            if e.endswith((".yaml", ".yml")) and not e.startswith(".") and (d / e).is_file()]


def _choice(c: Checker, node: YNode, what: str, allowed: Iterable[str], meaning: str = "") -> Optional[str]:
    allowed = tuple(allowed)
    if node.kind == "scalar" and node.value is False and "none" in allowed:
        return "none"  # `loader: no` / `off` read as false by YAML
    v = c.text(node, what)
    if v is None:
        return None
    if v not in allowed:
        c.error(node, f"{what}: `{v}` is not one of {', '.join(allowed)}{suffix(v, allowed)}"
                      + (f" ({meaning})" if meaning else ""))
        return None
    return v


def check_url(c: Checker, node: YNode, value: str, what: str, schemes: Iterable[str] = ("https", "http", "file")) -> Optional[str]:
    """A URL with one of `schemes`, or None after recording a problem."""
    schemes = tuple(schemes)
    v = value.strip()
    if not v or any(ch.isspace() for ch in v):
        c.error(node, f"{what}: `{value}` is not a URL (no spaces allowed)")
        return None
    try:
        parts = urlsplit(v)
    except ValueError as exc:
        c.error(node, f"{what}: `{value}` is not a URL ({exc})")
        return None
    if not parts.scheme or "://" not in v:
        c.error(node, f"{what}: `{value}` is not a URL: write it with its scheme, like https://{v.lstrip('/')}")
        return None
    if parts.scheme not in schemes:
        guess = did_you_mean(parts.scheme, schemes)
        hint = f"; did you mean `{guess}://`?" if guess else ""
        c.error(node, f"{what}: `{value}`: the scheme must be {', '.join(s + '://' for s in schemes)}{hint}")
        return None
    if parts.scheme != "file" and not parts.hostname:
        c.error(node, f"{what}: `{value}` has no host name")
        return None
    if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path.startswith("/")):
        c.error(node, f"{what}: `{value}`: a file:// URL needs an absolute path (file:///srv/nix)")
        return None
    if parts.query or parts.fragment:
        c.error(node, f"{what}: `{value}`: a base URL takes no ?query or #fragment")
        return None
    return v


def _hex_sha256(text: str) -> Optional[str]:
    sri = sha256_to_sri(text)
    if sri is None:
        return None
    return base64.b64decode(sri[7:]).hex()


def _check_nix(node: Optional[YNode], team: TeamConfig, c: Checker) -> None:
    m = c.mapping(node, "nix")
    if m is None:
        return
    c.keys(m, NIX_KEYS, "nix", advice={
        "url": "give the mirror's base URL as `mirror` (laid out like https://releases.nixos.org/nix)",
        "tarball": "give the mirror's base URL as `mirror` and the version as `version`",
        "hash": "give the tarballs' hashes under `sha256:` as VERSION-SYSTEM: HASH lines",
        "hashes": "did you mean `sha256`?",
    })
    vnode = m.get("version")
    if vnode is not None:
        v = c.text(vnode, "nix.version", numbers=True, pattern=NIX_VERSION_RE,
                   pattern_hint="a Nix release like 2.24.9")
        if v is not None:
            if isinstance(vnode.value, float):
                c.warn(vnode, f"nix.version: quote the version (\"{v}\") so YAML keeps it as written")
            team.nix_version = v
    mnode = m.get("mirror")
    if mnode is not None:
        url = c.text(mnode, "nix.mirror", nonempty=True)
        if url is not None:
            url = check_url(c, mnode, url, "nix.mirror")
            if url is not None:
                if url.endswith(".tar.xz"):
                    c.error(mnode, "nix.mirror: give the mirror's base URL (laid out like "
                                   "https://releases.nixos.org/nix), not one tarball's URL")
                else:
                    if url.startswith("http://"):
                        c.warn(mnode, "nix.mirror: plain http: only the sha256 check protects the download; "
                                      "prefer https")
                    team.nix_mirror = url.rstrip("/")
    snode = m.get("sha256")
    if snode is not None:
        sm = c.mapping(snode, "nix.sha256")
        for pair in sm.pairs() if sm is not None else []:
            key = pair.key.value
            if not isinstance(key, str):
                c.error(pair.key, f"nix.sha256: a key is VERSION-SYSTEM text, like \"2.24.9-x86_64-linux\"; "
                                  f"quote it: \"{pair.key.raw}\"")
                continue
            version, system = split_release_key(key)
            if not system or not re.fullmatch(NIX_VERSION_RE, version):
                guess = ""
                if key.count("-") >= 2:
                    ver, arch, kernel = key.rsplit("-", 2)
                    sys_guess = did_you_mean(f"{arch}-{kernel}", SYSTEMS)
                    if sys_guess and re.fullmatch(NIX_VERSION_RE, ver):
                        guess = f"; did you mean `{ver}-{sys_guess}`?"
                c.error(pair.key, f"nix.sha256: `{key}` is not VERSION-SYSTEM, like 2.24.9-x86_64-linux"
                                  f"{guess} (systems: {', '.join(SYSTEMS)})")
                continue
            value = c.text(pair.value, f"nix.sha256.{key}", nonempty=True)
            if value is None:
                continue
            hexdigest = _hex_sha256(value)
            if hexdigest is None:
                c.error(pair.value, f"nix.sha256.{key}: `{value}` is not a SHA-256 (64 hex digits, "
                                    "or sha256-... as Nix prints it)")
                continue
            team.nix_sha256[key] = hexdigest
    dnode = m.get("mode")
    if dnode is not None:
        mode = _choice(c, dnode, "nix.mode", TEAM_MODE_IDS, "single-user, or multi-user with nix-daemon")
        if mode is not None:
            team.install_mode = mode


def _check_python(node: Optional[YNode], team: TeamConfig, c: Checker) -> None:
    """python: the package index `onboard lock` resolves against (uv's --index-url and
    --extra-index-url)."""
    m = c.mapping(node, "python")
    if m is None:
        return
    c.keys(m, PYTHON_KEYS, "python", advice={
        "index": "did you mean `index_url`?",
        "index-url": "did you mean `index_url`?",
        "extra_index_url": "give a list as `extra_index_urls`",
        "extra-index-url": "give a list as `extra_index_urls`",
        "version": "the Python version is the profile's (`python: \"3.12\"` in profiles/NAME.yaml)",
    })
    inode = m.get("index_url")
    if inode is not None:
        url = c.text(inode, "python.index_url", nonempty=True)
        if url is not None:
            url = check_url(c, inode, url, "python.index_url")
            if url is not None:
                team.python_index_url = url.rstrip("/")
    for value, item in c.text_list(m.get("extra_index_urls"), "python.extra_index_urls") or []:
        url = check_url(c, item, value, "python.extra_index_urls")
        if url is None:
            continue
        if url.rstrip("/") in team.python_extra_index_urls:
            c.warn(item, f"python.extra_index_urls: `{url}` is listed twice")
        else:
            team.python_extra_index_urls.append(url.rstrip("/"))


def _check_cache(node: Optional[YNode], team: TeamConfig, c: Checker) -> None:
    m = c.mapping(node, "binary_cache")
    if m is None:
        return
    c.keys(m, CACHE_KEYS, "binary_cache", advice={
        "url": "list the cache URLs under `substituters`",
        "urls": "did you mean `substituters`?",
        "keys": "did you mean `trusted_public_keys`?",
        "public_keys": "did you mean `trusted_public_keys`?",
    })
    cache = BinaryCache()
    for value, item in c.text_list(m.get("substituters"), "binary_cache.substituters") or []:
        url = check_url(c, item, value, "binary_cache.substituters",
                        schemes=("https", "http", "s3", "file", "ssh", "ssh-ng"))
        if url is not None:
            if url.rstrip("/") in cache.substituters:
                c.warn(item, f"binary_cache.substituters: `{url}` is listed twice")
            else:
                cache.substituters.append(url.rstrip("/"))
    for value, item in c.text_list(m.get("trusted_public_keys"), "binary_cache.trusted_public_keys") or []:
        km = KEY_RE.match(value.strip())
        raw: Optional[bytes] = None
        if km:
            try:
                raw = base64.b64decode(km.group("key"), validate=True)
            except (binascii.Error, ValueError):
                raw = None
        if raw is None or len(raw) != 32:
            c.error(item, f"binary_cache.trusted_public_keys: `{value}` is not a Nix public key: expected "
                          "NAME:BASE64 of 32 bytes, like cache.example.org-1:AbC...= (as `nix key "
                          "convert-secret-to-public` prints it)")
            continue
        cache.trusted_public_keys.append(value.strip())
    if cache.substituters and not cache.trusted_public_keys and m.get("trusted_public_keys") is None:
        c.error(m, "binary_cache: give the cache's `trusted_public_keys` too: Nix ignores what an "
                   "untrusted cache offers")
    if m.get("substituters") is not None or m.get("trusted_public_keys") is not None:
        team.binary_cache = cache
