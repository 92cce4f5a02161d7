"""The team config: `onboard.yaml` at the root of the team's repository.

It names what every new hire of the team gets by default: the profile, the Nix version
and where its tarball comes from, the team's binary cache, the editors to configure and
how the environment loads (direnv or lorri). A command-line flag or a choice in the
terminal UI always wins over it.

Found, in order: an explicit path (--team-config), $ONBOARD_TEAM_CONFIG, `onboard.yaml`
in the current directory or a parent (up to the repository's root), then
$ONBOARD_DEFAULT_TEAM_CONFIG (which the bootstrap's launcher sets to the config it was
installed with). Validated like profiles: every problem at once as
`file:line:col: message`, unknown keys fatal with a did-you-mean.

yaml is imported only when a file is parsed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from onboard.core.profiles.yamlsrc import Mark, Problem, YNode

FILENAMES = ("onboard.yaml", "onboard.yml")
ENV_PATH = "ONBOARD_TEAM_CONFIG"
ENV_DEFAULT_PATH = "ONBOARD_DEFAULT_TEAM_CONFIG"
ENV_PROFILE = "ONBOARD_TEAM_PROFILE"  # overrides default_profile (the bootstrap's --profile)

TOP_KEYS = ("version", "team", "default_profile", "profiles", "nix", "binary_cache", "editors", "loader")
NIX_KEYS = ("version", "mirror", "sha256", "mode")
CACHE_KEYS = ("substituters", "trusted_public_keys")
LOADERS = ("direnv", "lorri", "none")
SYSTEMS = ("x86_64-linux", "aarch64-linux", "i686-linux", "armv7l-linux", "armv6l-linux", "riscv64-linux",
           "x86_64-darwin", "aarch64-darwin")
RELEASES = "https://releases.nixos.org/nix"

NIX_VERSION_RE = r"\d+\.\d+(\.\d+)?(pre[\w.]*)?"
SUBSTITUTER_RE = re.compile(r"^(https?|s3|file|ssh|ssh-ng)://\S+$")
KEY_RE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+):(?P<key>[A-Za-z0-9+/]+={0,2})$")

__all__ = ["TeamConfig", "BinaryCache", "TeamConfigError", "find_team_config", "load_team_config",
           "check_team_config", "apply_to_choices", "default_profile"]


class TeamConfigError(Exception):
    """Every problem found in the team config, all at once (`file:line:col: message` lines)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class BinaryCache:
    substituters: list[str] = field(default_factory=list)
    trusted_public_keys: list[str] = field(default_factory=list)


@dataclass
class TeamConfig:
    path: str
    team: str = ""
    default_profile: str = ""
    profiles_dir: str = ""  # absolute; "" when the file names none and there is no profiles/ beside it
    nix_version: str = ""
    nix_mirror: str = ""  # base URL laid out like https://releases.nixos.org/nix
    nix_sha256: dict[str, str] = field(default_factory=dict)  # "VERSION-SYSTEM" -> 64 hex digits
    install_mode: str = ""  # single | daemon | "" (onboard recommends one)
    binary_cache: Optional[BinaryCache] = None
    editors: list[str] = field(default_factory=list)
    loader: str = ""  # direnv | lorri | none | "" (not said)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def root(self) -> Path:
        """The team repository's root: the directory holding the config."""
        return Path(self.path).parent

    def tarball_url(self, system: str, version: str = "") -> str:
        """Where the Nix release tarball for `system` comes from ("" when no version is set)."""
        version = version or self.nix_version
        if not version:
            return ""
        base = self.nix_mirror or RELEASES
        return f"{base}/nix-{version}/nix-{version}-{system}.tar.xz"

    def tarball_sha256(self, system: str, version: str = "") -> str:
        return self.nix_sha256.get(f"{version or self.nix_version}-{system}", "")

    def nix_table_overlay(self) -> dict[str, Any]:
        """The team's Nix settings in the shape of onboard/data/nix-versions.json, to merge over
        the shipped table: the default version, the mirror's URL template, the sha256 entries
        and the nix.conf settings of the binary cache."""
        out: dict[str, Any] = {}
        if self.nix_version:
            out["default"] = self.nix_version
        if self.nix_mirror:
            out["url_template"] = self.nix_mirror + "/nix-{version}/nix-{version}-{system}.tar.xz"
        versions: dict[str, dict[str, dict[str, str]]] = {}
        for key, sha in self.nix_sha256.items():
            version, system = split_release_key(key)
            versions.setdefault(version, {})[system] = {"sha256": sha}
        if versions:
            out["versions"] = versions
        if self.binary_cache is not None:
            out["nix_conf"] = {"substituters": list(self.binary_cache.substituters),
                               "trusted-public-keys": list(self.binary_cache.trusted_public_keys)}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "team": self.team, "default_profile": self.default_profile,
            "profiles_dir": self.profiles_dir, "nix_version": self.nix_version, "nix_mirror": self.nix_mirror,
            "nix_sha256": dict(self.nix_sha256), "install_mode": self.install_mode,
            "binary_cache": None if self.binary_cache is None else {
                "substituters": list(self.binary_cache.substituters),
                "trusted_public_keys": list(self.binary_cache.trusted_public_keys)},
            "editors": list(self.editors), "loader": self.loader,
        }


# ---------------------------------------------------------------------------------------
# Finding and loading
# ---------------------------------------------------------------------------------------

def find_team_config(start: Optional[Path] = None) -> Optional[Path]:
    """The team config's path, or None. An explicit $ONBOARD_TEAM_CONFIG that does not exist
    is an error (a typo should not silently fall back to no config)."""
    env = os.environ.get(ENV_PATH, "").strip()
    if env:
        p = Path(os.path.expanduser(env)).absolute()
        if not p.is_file():
            raise TeamConfigError([Problem(str(p), 0, 0, f"no such file (named by ${ENV_PATH})")])
        return p
    here = Path(start if start is not None else os.getcwd()).absolute()
    for d in (here, *here.parents):
        for name in FILENAMES:
            cand = d / name
            if cand.is_file():
                return cand
        if (d / ".git").exists():
            break  # the repository's root: a config above it belongs to something else
    fallback = os.environ.get(ENV_DEFAULT_PATH, "").strip()
    if fallback:
        p = Path(os.path.expanduser(fallback)).absolute()
        if p.is_file():
            return p
    return None


def load_team_config(start: Optional[Path] = None, path: Optional[os.PathLike | str] = None) -> Optional[TeamConfig]:
    """The team config found from `start` (default: the current directory), or the file at
    `path`; None when there is none. Raises TeamConfigError with every problem when it has
    any error; warnings are kept in `TeamConfig.warnings`."""
    if path is not None:
        p = Path(os.path.expanduser(str(path))).absolute()
        if not p.is_file():
            what = "is a directory, not a team config file" if p.is_dir() else "no such file"
            raise TeamConfigError([Problem(str(p), 0, 0, what)])
    else:
        found = find_team_config(start)
        if found is None:
            return None
        p = found
    team, problems = check_team_config(p)
    if team is None or any(x.level == "error" for x in problems):
        raise TeamConfigError(problems)
    return team


def check_team_config(path: os.PathLike | str) -> tuple[Optional[TeamConfig], list[Problem]]:
    """Like load_team_config for one file, but never raises: (config or None, problems)."""
    from onboard.core.profiles.validate import Checker
    from onboard.core.profiles.yamlsrc import read_yaml

    file = str(path)
    res = read_yaml(file)
    c = Checker(file)
    c.problems.extend(res.problems)
    if any(p.level == "error" for p in res.problems):
        return None, _sorted(c.problems)
    team = check_document(res.root, file, c)
    team.warnings = [p for p in c.problems if p.level == "warning"]
    return (team if c.ok else None), _sorted(c.problems)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.sort_key())


# ---------------------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------------------

def check_document(root: Optional[YNode], file: str, c: Any) -> TeamConfig:
    """Apply the team config schema to a parsed file; problems go to the Checker `c`."""
    from onboard.core.profiles.validate import NAME_HINT, NAME_RE

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
                    from onboard.core.profiles.suggest import suffix

                    avail = f"; available: {', '.join(names)}" if names else "; that directory has no profiles"
                    c.error(dnode, f"default_profile: no profile `{prof}` in {team.profiles_dir}"
                                   f"{suffix(prof, names)}{avail}")
                    prof = None
            if prof is not None:
                team.default_profile = prof

    _check_nix(top.get("nix"), team, c)
    _check_cache(top.get("binary_cache"), team, c)

    enode = top.get("editors")
    if enode is not None:
        from onboard.core.integrations.editors import registry
        from onboard.core.profiles.suggest import suffix

        for value, item in c.text_list(enode, "editors") or []:
            v = value.strip().lower()
            if v not in registry.IDS:
                advice = registry.typo_advice().get(v)
                hint = f"; {advice}" if advice else suffix(v, registry.IDS)
                c.error(item, f"editors: unknown editor `{value}`{hint} (choose from "
                              f"{', '.join(registry.IDS)})")
            elif v in team.editors:
                c.warn(item, f"editors: `{v}` is listed twice")
            else:
                team.editors.append(v)

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


def _choice(c: Any, node: YNode, what: str, allowed: Iterable[str], meaning: str = "") -> Optional[str]:
    from onboard.core.profiles.suggest import suffix

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


def check_url(c: Any, node: YNode, value: str, what: str, schemes: Iterable[str] = ("https", "http", "file")) -> Optional[str]:
    """A URL with one of `schemes`, or None after recording a problem."""
    from onboard.core.profiles.suggest import did_you_mean

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


def split_release_key(key: str) -> tuple[str, str]:
    """"2.24.9-x86_64-linux" -> ("2.24.9", "x86_64-linux")."""
    for system in SYSTEMS:
        if key.endswith("-" + system):
            return key[: -len(system) - 1], system
    return key, ""


def _hex_sha256(text: str) -> Optional[str]:
    from onboard.core.profiles.validate import sha256_to_sri

    sri = sha256_to_sri(text)
    if sri is None:
        return None
    return base64.b64decode(sri[7:]).hex()


def _check_nix(node: Optional[YNode], team: TeamConfig, c: Any) -> None:
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
                from onboard.core.profiles.suggest import did_you_mean

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
        from onboard.core.modes import TEAM_MODE_IDS

        mode = _choice(c, dnode, "nix.mode", TEAM_MODE_IDS, "single-user, or multi-user with nix-daemon")
        if mode is not None:
            team.install_mode = mode


def _check_cache(node: Optional[YNode], team: TeamConfig, c: Any) -> None:
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


# ---------------------------------------------------------------------------------------
# Using it
# ---------------------------------------------------------------------------------------

def default_profile(team: Optional[TeamConfig]) -> str:
    """The profile a new hire starts with: $ONBOARD_TEAM_PROFILE (the bootstrap's --profile),
    else the team config's default_profile, else ""."""
    env = os.environ.get(ENV_PROFILE, "").strip()
    if env:
        return env
    return team.default_profile if team is not None else ""


def apply_to_choices(team: Optional[TeamConfig], choices: Any, keep: Iterable[str] = (),
                     system: str = "") -> dict[str, Any]:
    """Fill in what `choices` leaves open from the team config; return what was applied.

    Only empty fields are filled, and never a field named in `keep` (what the user set on
    the command line or in the terminal UI). `system` is the Nix system for the tarball
    URL (default: this machine's).
    """
    keep = set(keep)
    applied: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if name in keep or not value:
            return
        current = getattr(choices, name)
        if current:
            return
        setattr(choices, name, value)
        applied[name] = value

    put("profile", default_profile(team))
    if team is None:
        return applied
    if team.install_mode and "mode" not in keep and getattr(choices, "mode", "") == "single" \
            and team.install_mode != "single":
        choices.mode = team.install_mode
        applied["mode"] = team.install_mode
    if not getattr(choices, "tarball", "") and "tarball" not in keep:
        put("nix_version", team.nix_version)
        version = getattr(choices, "nix_version", "") or team.nix_version
        if team.nix_mirror and version:
            sys_name = system or _current_system()
            put("tarball", team.tarball_url(sys_name, version))
            put("sha256", team.tarball_sha256(sys_name, version))
        elif version:
            put("sha256", team.tarball_sha256(system or _current_system(), version))
    if not getattr(choices, "components", None) and "components" not in keep:
        comps = list(team.editors)
        if team.loader in ("direnv", "lorri"):
            comps.insert(0, team.loader)
        if comps:
            choices.components = comps
            applied["components"] = list(comps)
    return applied


def _current_system() -> str:
    import platform

    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "i586": "i686"}.get(machine, machine)
    return f"{arch}-{platform.system().lower()}"
