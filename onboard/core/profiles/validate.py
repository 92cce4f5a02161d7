"""Schema checking with positions, and the profile schema built on it.

`Checker` is a small toolkit any YAML-backed file can use (profiles, the team config):
typed getters that record a `file:line:col: message` problem instead of raising, unknown
keys with did-you-mean, required keys. Every problem is collected; nothing stops at the
first one.

`check_profile_document` applies the profile schema to one parsed file and returns a
`ProfileDoc` (what the file says, before `extends` is merged). The loader merges docs.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from onboard.core.profiles.model import Pin, PythonSpec
from onboard.core.profiles.suggest import did_you_mean, looks_mistyped, suffix
from onboard.core.profiles.yamlsrc import Mark, Problem, YNode, type_name


class ValidationError(Exception):
    """Every problem found in one or more files, all at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]


Where = Union[YNode, Mark, None]


class Checker:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    # -- reporting ------------------------------------------------------------------------
    def _at(self, where: Where) -> tuple[str, int, int]:
        if isinstance(where, YNode):
            where = where.mark
        if isinstance(where, Mark):
            return where.file or self.file, where.line, where.col
        return self.file, 0, 0

    def error(self, where: Where, message: str) -> None:
        f, line, col = self._at(where)
        self.problems.append(Problem(f, line, col, message))

    def warn(self, where: Where, message: str) -> None:
        f, line, col = self._at(where)
        self.problems.append(Problem(f, line, col, message, level="warning"))

    @property
    def ok(self) -> bool:
        return not any(p.level == "error" for p in self.problems)

    # -- structure ------------------------------------------------------------------------
    def mapping(self, node: Optional[YNode], what: str) -> Optional[YNode]:
        if node is None or node.bad:
            return None
        if node.kind != "map":
            if node.kind == "scalar" and node.value is None:
                return YNode("map", node.mark, [], tag="tag:yaml.org,2002:map")  # `key:` with nothing
            self.error(node, f"{what}: expected a mapping (key: value lines), got {type_name(node)}")
            return None
        return node

    def keys(self, node: YNode, allowed: Sequence[str], what: str,
             required: Sequence[str] = (), advice: Optional[dict[str, str]] = None) -> None:
        """Unknown keys are errors with did-you-mean; missing required keys are errors at
        the mapping. `advice` gives a specific message for a known-wrong key."""
        advice = advice or {}
        for pair in node.pairs():
            key = pair.key.value
            if not isinstance(key, str):
                self.error(pair.key, f"{what}: a key must be text, got {type_name(pair.key)}; "
                                     f"quote it: \"{pair.key.raw}\"")
                continue
            if key in allowed:
                continue
            where = f"{what}." if what else ""
            if key in advice:
                self.error(pair.key, f"unknown key `{where}{key}`: {advice[key]}")
            else:
                self.error(pair.key, f"unknown key `{where}{key}`{suffix(key, allowed)} "
                                     f"(allowed: {', '.join(allowed)})")
        present = set(node.keys())
        for key in required:
            if key not in present:
                self.error(node, f"{what + ': ' if what else ''}missing required key `{key}`")

    # -- scalars --------------------------------------------------------------------------
    def text(self, node: Optional[YNode], what: str, *, numbers: bool = False,
             nonempty: bool = False, pattern: Optional[str] = None, pattern_hint: str = "") -> Optional[str]:
        """A string. With numbers=True a number is taken as written (`5432`, `3.10`)."""
        if node is None or node.bad:
            return None
        if node.kind == "scalar" and isinstance(node.value, str):
            value = node.value
        elif numbers and node.kind == "scalar" and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            value = node.raw
        else:
            hint = ""
            if node.kind == "scalar" and node.value is not None and node.raw:
                hint = f"; quote it if you meant the text: \"{node.raw}\""
            elif node.kind == "scalar" and node.value is None:
                hint = "; give a value or remove the key"
            self.error(node, f"{what}: expected text, got {type_name(node)}{hint}")
            return None
        if nonempty and not value.strip():
            self.error(node, f"{what}: must not be empty")
            return None
        if pattern is not None and not re.fullmatch(pattern, value):
            self.error(node, f"{what}: `{value}` is not valid{'; ' + pattern_hint if pattern_hint else ''}")
            return None
        return value

    def boolean(self, node: Optional[YNode], what: str) -> Optional[bool]:
        if node is None or node.bad:
            return None
        if node.kind == "scalar" and isinstance(node.value, bool):
            return node.value
        self.error(node, f"{what}: expected true or false, got {type_name(node)}")
        return None

    def integer(self, node: Optional[YNode], what: str, minimum: Optional[int] = None,
                maximum: Optional[int] = None) -> Optional[int]:
        if node is None or node.bad:
            return None
        if node.kind != "scalar" or isinstance(node.value, bool) or not isinstance(node.value, int):
            self.error(node, f"{what}: expected a whole number, got {type_name(node)}")
            return None
        v = node.value
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            lo = "" if minimum is None else str(minimum)
            hi = "" if maximum is None else str(maximum)
            self.error(node, f"{what}: {v} is out of range ({lo}..{hi})")
            return None
        return v

    # -- collections ----------------------------------------------------------------------
    def seq(self, node: Optional[YNode], what: str) -> Optional[list[YNode]]:
        if node is None or node.bad:
            return None
        if node.kind == "scalar" and node.value is None:
            return []
        if node.kind != "seq":
            hint = ""
            if node.kind == "scalar" and isinstance(node.value, str):
                hint = f"; write it as a list: [{node.raw}] or one `- item` per line"
            self.error(node, f"{what}: expected a list, got {type_name(node)}{hint}")
            return None
        return node.items()

    def text_list(self, node: Optional[YNode], what: str, **kw: Any) -> Optional[list[tuple[str, YNode]]]:
        items = self.seq(node, what)
        if items is None:
            return None
        out: list[tuple[str, YNode]] = []
        for i, item in enumerate(items):
            v = self.text(item, f"{what}[{i}]", **kw)
            if v is not None:
                out.append((v, item))
        return out

    def text_map(self, node: Optional[YNode], what: str, key_pattern: Optional[str] = None,
                 key_hint: str = "", numbers: bool = True) -> Optional[dict[str, tuple[str, YNode]]]:
        m = self.mapping(node, what)
        if m is None:
            return None
        out: dict[str, tuple[str, YNode]] = {}
        for pair in m.pairs():
            key = pair.key.value
            if not isinstance(key, str):
                self.error(pair.key, f"{what}: a name must be text, got {type_name(pair.key)}; "
                                     f"quote it: \"{pair.key.raw}\"")
                continue
            if key_pattern is not None and not re.fullmatch(key_pattern, key):
                self.error(pair.key, f"{what}: `{key}` is not a valid name{'; ' + key_hint if key_hint else ''}")
                continue
            v = self.text(pair.value, f"{what}.{key}", numbers=numbers)
            if v is not None:
                out[key] = (v, pair.value)
        return out


# ---------------------------------------------------------------------------------------
# Hashes
# ---------------------------------------------------------------------------------------

NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix32_encode(data: bytes) -> str:
    n = (len(data) * 8 - 1) // 5 + 1
    out = []
    for i in range(n - 1, -1, -1):
        b = i * 5
        j, k = divmod(b, 8)
        c = data[j] >> k
        if j + 1 < len(data):
            c |= data[j + 1] << (8 - k)
        out.append(NIX32[c & 0x1F])
    return "".join(out)


def nix32_decode(text: str, size: int = 32) -> Optional[bytes]:
    if len(text) != (size * 8 - 1) // 5 + 1 or any(c not in NIX32 for c in text):
        return None
    out = bytearray(size)
    for n, ch in enumerate(reversed(text)):
        digit = NIX32.index(ch)
        b = n * 5
        j, k = divmod(b, 8)
        out[j] |= (digit << k) & 0xFF
        if j + 1 < size:
            out[j + 1] |= digit >> (8 - k)
        elif digit >> (8 - k):
            return None
    return bytes(out)


def sha256_to_sri(text: str) -> Optional[str]:
    """Any sha256 spelling Nix accepts (SRI, sha256:base32, base32, hex) -> SRI, or None."""
    t = text.strip()
    raw: Optional[bytes] = None
    if t.startswith("sha256-"):
        try:
            raw = base64.b64decode(t[7:], validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        if t.startswith("sha256:"):
            t = t[7:]
        if re.fullmatch(r"[0-9a-fA-F]{64}", t):
            raw = bytes.fromhex(t)
        else:
            raw = nix32_decode(t)
    if raw is None or len(raw) != 32:
        return None
    return "sha256-" + base64.b64encode(raw).decode()


def sri_to_nix32(sri: str) -> str:
    return nix32_encode(base64.b64decode(sri[7:]))


# ---------------------------------------------------------------------------------------
# The profile schema
# ---------------------------------------------------------------------------------------

TOP_KEYS = ("name", "description", "extends", "nixpkgs", "packages", "python", "env", "shellHook",
            "scripts", "allowUnfree", "unfree", "editors", "services")
PIN_KEYS = ("rev", "narHash", "owner", "repo", "lastModified", "url", "sha256")
PYTHON_KEYS = ("version", "requirements", "venv", "libraries")
VSCODE_KEYS = ("extensions", "settings")
SERVICE_NAMES = ("postgresql", "redis", "mysql", "memcached", "minio", "rabbitmq", "mongodb")
SERVICE_KEYS = ("enable", "package", "port", "data_dir", "databases", "settings")

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]*"
NAME_HINT = "use letters, digits, '.', '_' and '-', starting with a letter or digit"
_ATTR_PART = r"[A-Za-z0-9_+-][A-Za-z0-9_'+-]*"
ATTR_RE = rf"{_ATTR_PART}(\.{_ATTR_PART})*"
ATTR_HINT = ("a package is an attribute path of the package set, like `postgresql_16` or "
             "`python312Packages.numpy` (letters, digits, _ - + ', parts joined by dots)")
ENV_RE = r"[A-Za-z_][A-Za-z0-9_]*"
ENV_HINT = "a variable name is letters, digits and '_', not starting with a digit"
SCRIPT_RE = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"
SCRIPT_HINT = "a script name is a command name: letters, digits, '.', '_', '+', '-'"
PYVER_RE = r"3\.\d{1,2}"
REV_RE = r"[0-9a-f]{40}"

#: Variables the shell sets itself (nix develop and nix-shell ignore or overwrite them),
#: or that onboard sets. Setting them in `env` would not work or would break the shell.
RESERVED_ENV = {
    "PATH": "the shell builds PATH from `packages` and `scripts`; add packages or scripts instead",
    "HOME": "the shell keeps your HOME", "USER": "the shell keeps your USER",
    "SHELL": "the shell keeps your SHELL", "TERM": "the shell keeps your terminal's TERM",
    "PWD": "set by the shell", "OLDPWD": "set by the shell", "SHLVL": "set by the shell",
    "TMPDIR": "set by Nix", "TMP": "set by Nix", "TEMP": "set by Nix", "TEMPDIR": "set by Nix",
    "NIX_BUILD_TOP": "set by Nix", "IN_NIX_SHELL": "set by Nix",
    "ONBOARD_PROFILE": "onboard sets it to the profile's name",
    "VIRTUAL_ENV": "onboard sets it when the profile has `python`",
}
#: mkShell and derivation arguments: env names that would collide with them.
MKSHELL_ARGS = {"name", "packages", "inputsFrom", "buildInputs", "nativeBuildInputs",
                "propagatedBuildInputs", "propagatedNativeBuildInputs", "shellHook", "passthru",
                "meta", "builder", "args", "system", "outputs", "stdenv", "phases", "env",
                "__structuredAttrs", "allowSubstitutes", "preferLocalBuild", "passAsFile"}

BRANCH_WORDS = re.compile(r"^(nixos|nixpkgs|release|master|main|unstable|stable|staging|HEAD)", re.I)


def pin_advice(ref: str) -> str:
    return (f"`{ref}` is a branch: it moves, so the same profile would give different packages on "
            "different days. Pin the package set to a commit: `rev: <40-hex commit>` and "
            "`narHash: sha256-...`; `nix flake metadata github:NixOS/nixpkgs/"
            f"{ref} --json` prints both (locked.rev, locked.narHash)")


@dataclass
class ProfileDoc:
    """What one profile file says, checked, before `extends` is merged. `present` holds the
    top-level keys the file sets (so a base's value is kept where the child says nothing)."""

    file: str
    root: Optional[YNode] = None
    readable: bool = True  # False: not a mapping at all (nothing more to check across files)
    present: set[str] = field(default_factory=set)
    name: Optional[str] = None
    description: str = ""
    extends: Optional[str] = None
    extends_node: Optional[YNode] = None
    nixpkgs: Optional[Pin] = None
    packages: list[str] = field(default_factory=list)
    package_nodes: dict[str, YNode] = field(default_factory=dict)
    python: dict[str, Any] = field(default_factory=dict)  # only the keys given
    python_node: Optional[YNode] = None
    python_keys: set[str] = field(default_factory=set)  # keys written under python (valid or not)
    env: dict[str, str] = field(default_factory=dict)
    shell_hook: str = ""
    scripts: dict[str, str] = field(default_factory=dict)
    allow_unfree: Optional[bool] = None
    unfree: list[str] = field(default_factory=list)
    unfree_node: Optional[YNode] = None
    editors: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)


def check_profile_document(root: Optional[YNode], file: str, c: Checker) -> ProfileDoc:
    doc = ProfileDoc(file=file, root=root)
    if root is None:
        c.error(Mark(file, 1, 1), "empty profile: expected a mapping with at least `nixpkgs` and `packages`")
        doc.readable = False
        return doc
    top = c.mapping(root, "profile")
    if top is None:
        doc.readable = False
        return doc
    c.keys(top, TOP_KEYS, "", advice={
        "shell_hook": "did you mean `shellHook`?",
        "allow_unfree": "did you mean `allowUnfree`?",
        "inherits": "did you mean `extends`?",
        "pin": "the package set is pinned under `nixpkgs`",
    })
    doc.present = {k for k in top.keys() if isinstance(k, str) and k in TOP_KEYS}

    stem = os.path.splitext(os.path.basename(file))[0]
    name = c.text(top.get("name"), "name", pattern=NAME_RE, pattern_hint=NAME_HINT)
    if name is not None and name != stem:
        c.error(top.get("name"), f"name `{name}` differs from the file name `{os.path.basename(file)}`: "
                                 f"profiles are found by file name; rename the file to {name}.yaml "
                                 f"or write `name: {stem}`")
    if name is None and top.get("name") is None and not re.fullmatch(NAME_RE, stem):
        c.error(Mark(file, 1, 1), f"the file name `{os.path.basename(file)}` is not a usable profile name; "
                                  f"rename the file: {NAME_HINT}")
    doc.name = name if name is not None else stem
    desc = c.text(top.get("description"), "description")
    doc.description = (desc or "").strip()

    if "extends" in top.keys():
        doc.extends_node = top.get("extends")
        doc.extends = c.text(doc.extends_node, "extends", pattern=NAME_RE,
                             pattern_hint="give the name of another profile (its file name without .yaml)")
        if doc.extends is not None and doc.extends.endswith((".yaml", ".yml")):
            doc.extends = doc.extends.rsplit(".", 1)[0]

    if "nixpkgs" in top.keys():
        doc.nixpkgs = check_pin(top.get("nixpkgs"), c)

    packages = c.text_list(top.get("packages"), "packages")
    for value, node in packages or []:
        check_package(value, node, c, "packages")
        if value in doc.package_nodes:
            c.warn(node, f"`{value}` is listed twice (first at line {doc.package_nodes[value].mark.line})")
            continue
        doc.packages.append(value)
        doc.package_nodes[value] = node

    if "python" in top.keys():
        doc.python_node = top.get("python")
        doc.python = check_python(doc.python_node, file, c)
        pn = doc.python_node
        if pn is not None and pn.kind == "map":
            doc.python_keys = {k for k in pn.keys() if isinstance(k, str)}
        elif pn is not None and pn.value is not None:
            doc.python_keys = {"version"}

    env = c.text_map(top.get("env"), "env", key_pattern=ENV_RE, key_hint=ENV_HINT)
    for key, (value, node) in (env or {}).items():
        key_node = top.get("env").key_node(key)  # type: ignore[union-attr]
        if key in RESERVED_ENV:
            c.error(key_node, f"env: `{key}` cannot be set here: {RESERVED_ENV[key]}")
        elif key in MKSHELL_ARGS:
            c.error(key_node, f"env: `{key}` is an argument of mkShell, not a variable; "
                              "choose another name or export it in shellHook")
        elif "\0" in value:
            c.error(node, f"env.{key}: contains a NUL character")
        else:
            doc.env[key] = value

    hook = c.text(top.get("shellHook"), "shellHook")
    doc.shell_hook = hook or ""

    scripts = c.text_map(top.get("scripts"), "scripts", key_pattern=SCRIPT_RE, key_hint=SCRIPT_HINT,
                         numbers=False)
    for key, (value, node) in (scripts or {}).items():
        if not value.strip():
            c.error(node, f"scripts.{key}: the command is empty")
        else:
            doc.scripts[key] = value

    doc.allow_unfree = c.boolean(top.get("allowUnfree"), "allowUnfree")
    if "unfree" in top.keys():
        doc.unfree_node = top.get("unfree")
        for value, node in c.text_list(doc.unfree_node, "unfree",
                                       pattern=r"[A-Za-z0-9_][A-Za-z0-9_.+-]*",
                                       pattern_hint="give a package name, like google-chrome") or []:
            if value not in doc.unfree:
                doc.unfree.append(value)
        if doc.allow_unfree is False and doc.unfree:
            c.error(top.key_node("allowUnfree"), "allowUnfree is false but `unfree` lists packages: "
                                                 "set allowUnfree: true to allow exactly those")

    if "editors" in top.keys():
        doc.editors = check_editors(top.get("editors"), c)
    if "services" in top.keys():
        doc.services = check_services(top.get("services"), c)
    return doc


def check_package(value: str, node: YNode, c: Checker, what: str) -> bool:
    if not re.fullmatch(ATTR_RE, value):
        hint = ATTR_HINT
        if " " in value.strip():
            hint = "one package per list item; " + ATTR_HINT
        elif value.startswith("pkgs."):
            hint = f"write it without `pkgs.`: {value[5:]}"
        c.error(node, f"{what}: `{value}` is not a package attribute path; {hint}")
        return False
    if value.startswith("pkgs.") or value.startswith("nixpkgs."):
        c.error(node, f"{what}: write `{value.split('.', 1)[1]}`, without the `{value.split('.')[0]}.` prefix")
        return False
    verdict, fix = looks_mistyped(value)
    if verdict == "case":
        c.error(node, f"{what}: no package `{value}` (names are case-sensitive); did you mean `{fix}`?")
        return False
    if verdict == "typo":
        c.warn(node, f"{what}: `{value}` is not a package onboard knows; did you mean `{fix}`?")
    return True


def check_pin(node: Optional[YNode], c: Checker) -> Optional[Pin]:
    if node is None:
        return None
    if node.kind == "scalar" and isinstance(node.value, str):
        v = node.value.strip()
        m = re.fullmatch(r"(?:github:)?([\w.-]+)/([\w.-]+)/([\w./-]+)", v)
        ref = m.group(3) if m else v
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
    if rev is not None:
        if re.fullmatch(REV_RE, rev):
            pass
        elif re.fullmatch(r"[0-9a-fA-F]{40}", rev):
            rev = rev.lower()
        elif re.fullmatch(r"[0-9a-fA-F]{4,39}", rev):
            c.error(rev_node, f"nixpkgs.rev: `{rev}` is a short commit id; give all 40 hex digits")
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


def check_python(node: Optional[YNode], file: str, c: Checker) -> dict[str, Any]:
    """python: "3.12" or {version, requirements, venv, libraries}. Returns the keys given."""
    out: dict[str, Any] = {}
    if node is None:
        return out
    if node.kind == "scalar" and node.value is not None:
        v = c.text(node, "python", numbers=True)
        if v is not None and _python_version(v, node, c, "python"):
            out["version"] = v
        return out
    m = c.mapping(node, "python")
    if m is None:
        return out
    c.keys(m, PYTHON_KEYS, "python", advice={
        "lock": "give the lock file as `requirements` (a pip requirements file, hashes welcome)",
        "requirements_file": "did you mean `requirements`?",
        "venv_dir": "did you mean `venv`?",
    })
    if m.get("version") is not None:
        v = c.text(m.get("version"), "python.version", numbers=True)
        if v is not None and _python_version(v, m.get("version"), c, "python.version"):
            out["version"] = v
    if m.get("requirements") is not None:
        rnode = m.get("requirements")
        r = c.text(rnode, "python.requirements", nonempty=True)
        if r is not None:
            path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(file)), os.path.expanduser(r)))
            if not os.path.isfile(path):
                c.error(rnode, f"python.requirements: no such file: {path} "
                               "(the path is relative to the profile's directory)")
            else:
                out["requirements"] = path
    if m.get("venv") is not None:
        v = c.text(m.get("venv"), "python.venv", nonempty=True)
        if v is not None:
            parts = [x for x in v.replace("\\", "/").split("/") if x not in ("", ".")]
            if "\n" in v or "\0" in v:
                c.error(m.get("venv"), "python.venv: must be a single-line path")
            elif os.path.isabs(v) or v.startswith("~") or not parts or ".." in parts:
                c.error(m.get("venv"), f"python.venv: `{v}` must be a directory inside the project, "
                                       "like .venv (the virtualenv is made there, and remade when the "
                                       "Python changes)")
            else:
                out["venv"] = "/".join(parts)
    if m.get("libraries") is not None:
        libs = []
        for value, item in c.text_list(m.get("libraries"), "python.libraries") or []:
            if check_package(value, item, c, "python.libraries"):
                libs.append(value)
        out["libraries"] = libs
    return out


def _python_version(v: str, node: Optional[YNode], c: Checker, what: str) -> bool:
    if re.fullmatch(PYVER_RE, v):
        return True
    if re.fullmatch(r"3\.\d{1,2}\.\d+", v):
        c.error(node, f"{what}: `{v}`: give the minor version only (like 3.12); the patch release "
                      "is whatever the pinned package set has")
    elif v in ("3.1", "3.2"):
        c.error(node, f"{what}: `{v}` looks like 3.{v[2]}0 read as a number; quote it: \"3.{v[2]}0\"")
    else:
        c.error(node, f"{what}: `{v}` is not a Python version like 3.12")
    return False


def check_editors(node: Optional[YNode], c: Checker) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = c.mapping(node, "editors")
    if m is None:
        return out
    from onboard.core.integrations.editors import registry

    c.keys(m, registry.IDS + ("editorconfig",), "editors", advice=registry.typo_advice())
    for key in (e.id for e in registry.EDITORS if not e.settings):
        if m.get(key) is not None:
            b = c.boolean(m.get(key), f"editors.{key}")
            if b is not None:
                out[key] = b
    vs = m.get("vscode")
    if vs is not None:
        if vs.kind == "scalar" and isinstance(vs.value, bool):
            out["vscode"] = vs.value
        else:
            vm = c.mapping(vs, "editors.vscode")
            if vm is not None:
                c.keys(vm, VSCODE_KEYS, "editors.vscode")
                conf: dict[str, Any] = {}
                if vm.get("extensions") is not None:
                    conf["extensions"] = [v for v, _ in c.text_list(
                        vm.get("extensions"), "editors.vscode.extensions", pattern=r"[\w-]+\.[\w.-]+",
                        pattern_hint="an extension id is publisher.name, like mkhl.direnv") or []]
                if vm.get("settings") is not None:
                    sm = c.mapping(vm.get("settings"), "editors.vscode.settings")
                    if sm is not None:
                        conf["settings"] = sm.to_python()
                out["vscode"] = conf
    ec = m.get("editorconfig")
    if ec is not None:
        em = c.mapping(ec, "editors.editorconfig")
        if em is not None:
            sections: dict[str, dict[str, str]] = {}
            for pair in em.pairs():
                sec = c.text(pair.key, "editors.editorconfig section")
                what = f"editors.editorconfig.{pair.key.raw}"
                pm = c.mapping(pair.value, what)
                if sec is None or pm is None:
                    continue
                props: dict[str, str] = {}
                for pp in pm.pairs():
                    key = c.text(pp.key, f"{what} property", pattern=r"[a-z_]+",
                                 pattern_hint="a property like indent_style")
                    v = pp.value
                    if v.kind == "scalar" and isinstance(v.value, bool):
                        val: Optional[str] = "true" if v.value else "false"
                    else:
                        val = c.text(v, f"{what}.{pp.key.raw}", numbers=True)
                    if key is not None and val is not None:
                        props[key] = val
                sections[sec] = props
            out["editorconfig"] = sections
    return out


def check_services(node: Optional[YNode], c: Checker) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = c.mapping(node, "services")
    if m is None:
        return out
    c.keys(m, SERVICE_NAMES, "services", advice={"postgres": "did you mean `postgresql`?"})
    for pair in m.pairs():
        name = pair.key.value
        if name not in SERVICE_NAMES:
            continue
        v = pair.value
        what = f"services.{name}"
        if v.kind == "scalar" and isinstance(v.value, bool):
            out[name] = {"enable": v.value}
            continue
        sm = c.mapping(v, what)
        if sm is None:
            continue
        c.keys(sm, SERVICE_KEYS, what)
        conf: dict[str, Any] = {"enable": True}
        if sm.get("enable") is not None:
            b = c.boolean(sm.get("enable"), f"{what}.enable")
            if b is not None:
                conf["enable"] = b
        if sm.get("package") is not None:
            p = c.text(sm.get("package"), f"{what}.package")
            if p is not None and check_package(p, sm.get("package"), c, f"{what}.package"):  # type: ignore[arg-type]
                conf["package"] = p
        if sm.get("port") is not None:
            p2 = c.integer(sm.get("port"), f"{what}.port", 1, 65535)
            if p2 is not None:
                conf["port"] = p2
        if sm.get("data_dir") is not None:
            d = c.text(sm.get("data_dir"), f"{what}.data_dir", nonempty=True)
            if d is not None:
                conf["data_dir"] = d
        if sm.get("databases") is not None:
            conf["databases"] = [x for x, _ in c.text_list(sm.get("databases"), f"{what}.databases",
                                                          pattern=r"[A-Za-z_][\w-]*") or []]
        if sm.get("settings") is not None:
            st = c.mapping(sm.get("settings"), f"{what}.settings")
            if st is not None:
                conf["settings"] = st.to_python()
        out[name] = conf
    return out


def python_spec(python: dict[str, Any]) -> Optional[PythonSpec]:
    if not python or "version" not in python:
        return None
    return PythonSpec(version=python["version"], requirements=python.get("requirements"),
                      venv_dir=python.get("venv", ".venv"), libraries=list(python.get("libraries", [])))


__all__ = ["Checker", "ValidationError", "Problem", "ProfileDoc", "check_profile_document", "check_pin",
           "sha256_to_sri", "sri_to_nix32", "nix32_encode", "nix32_decode", "did_you_mean"]


SCHEMA_REFERENCE = """\
A team profile: profiles/NAME.yaml (YAML, read with safe_load semantics; unknown keys are errors)

name: NAME                  optional; must equal the file name without .yaml
description: TEXT           one line for listings; more for `onboard profiles show`
extends: BASE               another profile (same directory first, then the profile dirs).
                            The child overrides the base: packages, env, scripts, unfree,
                            editors and services are merged (the child wins per name);
                            shellHooks both run, the base's first; python merges per key.
nixpkgs:                    the package set, pinned to exact content (required, here or in BASE)
  rev: 40-HEX-COMMIT          a nixpkgs commit (a branch like nixos-24.11 is refused: it moves)
  narHash: sha256-...         the NAR hash of that commit's tree (as in flake.lock)
  lastModified: SECONDS       optional, the commit time (flake.lock records it)
  owner: NixOS / repo: nixpkgs  optional, for a fork on GitHub
  # or a tarball:  url: https://...tar.gz   sha256: <sha256 of the unpacked tree>
  # find rev + narHash: nix flake metadata github:NixOS/nixpkgs/nixos-24.11 --json
packages: [ATTR, ...]       attribute paths of the package set: python312, postgresql_16,
                            python312Packages.numpy (order kept: earlier wins on PATH)
python:                     or just `python: "3.12"`
  version: "3.12"             adds python312 to packages
  requirements: FILE          pip requirements or lock file (pip-compile --generate-hashes
                              works), relative to the profile; copied next to the rendered files
  venv: .venv                 where the virtualenv goes, relative to the project directory
                              ($ONBOARD_PROJECT_DIR, else the directory the shell starts in)
  libraries: [ATTR, ...]      their lib/ goes on LD_LIBRARY_PATH, for binary wheels
                              (stdenv.cc.cc.lib gives libstdc++, zlib gives libz)
                            The shellHook makes the virtualenv from the package set's Python
                            the first time, and again when that Python changes; it runs
                            `pip install -r` when the requirements file changed (a failure is
                            reported and retried on the next entry). VIRTUAL_ENV is set and
                            the venv's bin/ comes first on PATH.
env: {NAME: VALUE}          variables, values taken literally ($HOME is not expanded; use
                            shellHook for computed values). PATH, HOME and the like are refused.
shellHook: |                bash run when the shell starts, after the venv and scripts are set up
scripts: {NAME: COMMAND}    commands on PATH inside the shell (bin/NAME, run by bash;
                            arguments in "$@"); they work in `onboard shell P -- NAME` too
allowUnfree: true|false     unfree packages are refused unless allowed
unfree: [NAME, ...]         allow exactly these (by package name); allowUnfree: true without a
                            list allows every unfree package, and the plan says so
editors:                    vscode: {extensions: [publisher.name], settings: {...}} | true,
                            neovim / vim / emacs: true|false, editorconfig: {GLOB: {key: value}}
services:                   postgresql, redis, mysql, memcached, minio, rabbitmq, mongodb:
                            true | {enable, package, port, data_dir, databases, settings}
                            (declared for tools that start them; onboard does not start services)
"""
