"""The profile schema: what a profiles/NAME.yaml may say, checked with positions.

`check_profile_document` applies it to one parsed file and returns a `ProfileDoc` (what
the file says, before `extends` is merged); the loader merges the docs of a chain. The
checks record problems on a `Checker` (onboard.core.schema) and never raise. An editor's
settings under `editors:` are checked by the editor's own module, found in the registry.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from onboard.core.profiles.model import Pin, PythonSpec
from onboard.core.profiles.pin import check_pin
from onboard.core.profiles.suggest import looks_mistyped, one_edit_away
from onboard.core.schema import Checker, Mark, YNode


TOP_KEYS = ("name", "description", "extends", "nixpkgs", "packages", "python", "env", "shellHook",
            "scripts", "allowUnfree", "unfree", "editors", "services", "unlisted")
PYTHON_KEYS = ("version", "lock", "requirements", "editable", "from_nix", "extras", "venv", "libraries",
               "build_inputs", "build_systems")

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
        "allowUnfreePackages": "did you mean `unfree`? (the list of unfree packages to allow; "
                               "`allowUnfree: true` allows every one)",
        "pin": "the package set is pinned under `nixpkgs`",
    })
    doc.present = {k for k in top.keys() if isinstance(k, str) and k in TOP_KEYS}

    stem = os.path.splitext(os.path.basename(file))[0]
    name_node = top.get("name")
    if name_node is not None and name_node.kind == "scalar" and str(name_node.value or "").strip() == "":
        c.error(name_node, f"name is empty: write `name: {stem}` (the file name without .yaml)"
                           if re.fullmatch(NAME_RE, stem) else f"name is empty: {NAME_HINT}")
        name = None
    else:
        name = c.text(name_node, "name", pattern=NAME_RE, pattern_hint=NAME_HINT)
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
        doc.extends_node = node = top.get("extends")
        given = node.value if node is not None and node.kind == "scalar" else None
        stem_of = os.path.splitext(os.path.basename(given.strip()))[0] if isinstance(given, str) else ""
        if isinstance(given, str) and ("/" in given or given.strip().endswith((".yaml", ".yml"))) \
                and re.fullmatch(NAME_RE, stem_of):
            # a path where a name belongs: say which name, and read that profile as the base (so the
            # rest of the file is checked as it was meant, with no follow-on errors)
            c.error(node, f"extends: `{given}` is a path; give the profile's name: `extends: {stem_of}`")
            doc.extends = stem_of
        else:
            doc.extends = c.text(node, "extends", pattern=NAME_RE,
                                 pattern_hint="give the name of another profile (its file name without .yaml)")

    if "nixpkgs" in top.keys():
        doc.nixpkgs = check_pin(top.get("nixpkgs"), c)

    unlisted = frozenset(v for v, _n in (c.text_list(top.get("unlisted"), "unlisted") or [])) \
        if "unlisted" in top.keys() else frozenset()
    packages = c.text_list(top.get("packages"), "packages")
    for value, node in packages or []:
        check_package(value, node, c, "packages", unlisted)
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

    env_node = top.get("env")
    env = c.text_map(env_node, "env", key_pattern=ENV_RE, key_hint=ENV_HINT)
    for key, (value, node) in (env or {}).items():
        key_node = env_node.key_node(key) if env_node is not None else None
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


def check_package(value: str, node: YNode, c: Checker, what: str, unlisted: frozenset[str] = frozenset()) -> bool:
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
    verdict, fix = looks_mistyped(value) if value not in unlisted else ("ok", None)
    if verdict == "case":
        c.error(node, f"{what}: no package `{value}` (names are case-sensitive); did you mean `{fix}`?")
        return False
    if verdict == "typo" and fix and not one_edit_away(value, fix):
        c.warn(node, f"{what}: `{value}` is not a package onboard knows; did you mean `{fix}`?")
    elif verdict == "typo":  # one edit from a package onboard knows, and not itself one: a slip
        c.error(node, f"{what}: `{value}` is not a package onboard knows; did you mean `{fix}`? If `{value}` "
                      f"is right (onboard's list is not all of nixpkgs), add it under `unlisted:` in this "
                      f"profile: `unlisted: [{value}]`")
        return False
    return True


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
        "uv_lock": "did you mean `lock`? (the project's uv.lock)",
        "fromNix": "did you mean `from_nix`?", "nix": "did you mean `from_nix`?",
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
    from onboard.core.python.profilekeys import check_lock_keys

    out.update(check_lock_keys(m, file, c))
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
    if m.get("build_inputs") is not None:
        inputs = []
        for value, item in c.text_list(m.get("build_inputs"), "python.build_inputs") or []:
            if check_package(value, item, c, "python.build_inputs"):
                inputs.append(value)
        out["build_inputs"] = inputs
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
    for editor in (e for e in registry.EDITORS if e.settings):  # true|false, or its own settings
        value = m.get(editor.id)
        if value is None:
            continue
        if value.kind == "scalar" and isinstance(value.value, bool):
            out[editor.id] = value.value
            continue
        conf = _editor_module(editor.module).check_profile_settings(value, c)
        if conf is not None:
            out[editor.id] = conf
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
                    prop = c.text(pp.key, f"{what} property", pattern=r"[a-z_]+",
                                  pattern_hint="a property like indent_style")
                    v = pp.value
                    if v.kind == "scalar" and isinstance(v.value, bool):
                        val: Optional[str] = "true" if v.value else "false"
                    else:
                        val = c.text(v, f"{what}.{pp.key.raw}", numbers=True)
                    if prop is not None and val is not None:
                        props[prop] = val
                sections[sec] = props
            out["editorconfig"] = sections
    return out


def check_services(node: Optional[YNode], c: Checker) -> dict[str, Any]:
    """`services:`: the kinds and their keys come from the services registry."""
    from onboard.core.services.schema import check_services as check

    return check(node, c, check_package)


def python_spec(python: dict[str, Any]) -> Optional[PythonSpec]:
    if not python or "version" not in python:
        return None
    return PythonSpec(version=python["version"], requirements=python.get("requirements"),
                      venv_dir=python.get("venv", ".venv"), libraries=list(python.get("libraries", [])),
                      lock=python.get("lock"), editable=bool(python.get("editable", False)),
                      from_nix=list(python.get("from_nix", [])), extras=list(python.get("extras", [])),
                      build_inputs=list(python.get("build_inputs", [])),
                      build_systems=dict(python.get("build_systems", {})))


__all__ = ["ProfileDoc", "check_profile_document", "check_package", "check_pin", "check_python",
           "check_editors", "check_services", "python_spec", "SCHEMA_REFERENCE", "NAME_RE", "NAME_HINT"]


def _editors_reference() -> str:
    """The `editors:` lines of SCHEMA_REFERENCE, from the registry: each editor with
    settings says what its mapping holds, the others are true|false."""
    from onboard.core.integrations.editors import registry

    lines = [f"{e.id}: {_editor_module(e.module).PROFILE_REFERENCE} | true,"
             for e in registry.EDITORS if e.settings]
    lines.append(" / ".join(e.id for e in registry.EDITORS if not e.settings)
                 + ": true|false, editorconfig: {GLOB: {key: value}}")
    return ("\n" + " " * 28).join(lines)


def _services_reference() -> str:
    from onboard.core.services.schema import REFERENCE

    return REFERENCE


def _editor_module(name: str) -> Any:
    return importlib.import_module(f"onboard.core.integrations.editors.{name}")


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
unlisted: [ATTR, ...]       package names that are right although onboard's list of common
                            packages lacks them and they are one letter from a name on it
python:                     or just `python: "3.12"`
  version: "3.12"             adds python312 to packages
  lock: uv.lock               the project's uv.lock (pyproject.toml beside it), relative to the
                              project root: Nix fetches every wheel by its hash, uv syncs a venv
                              exactly (what is not locked is removed); see docs/python.md
  requirements: FILE          or a requirements file, every line `name==version --hash=sha256:...`
                              (uv export --hashes), relative to the profile
  extras: [NAME, ...]         the project's optional dependencies to install too
  from_nix: [NAME, ...]       Python packages taken from the package set (pythonXPackages.NAME),
                              visible in the venv and left out of the sync
  editable: true|false        install the project itself too, editable (uv pip install -e, offline)
  venv: .venv                 where the virtualenv goes, relative to the project directory
                              ($ONBOARD_PROJECT_DIR, else the directory the shell starts in)
  libraries: [ATTR, ...]      libraries the lock's native code loads (stdenv.cc.cc.lib gives
                              libstdc++, zlib gives libz): manylinux wheels are patched to find
                              them (RUNPATH), never a shell-wide LD_LIBRARY_PATH
  build_inputs: [ATTR, ...]   what the lock's sdists build with (headers, libraries, tools such
                              as postgresql's pg_config), besides the package set's compiler
  build_systems:              each sdist's build backend (uv.lock does not record it), from
    NAME: [setuptools, wheel]   the lock when it locks those names, else the package set
                            Without a lock the shellHook makes a bare virtualenv from the
                            package set's Python. VIRTUAL_ENV is set and the venv's bin/ comes
                            first on PATH.
env: {NAME: VALUE}          variables, values taken literally ($HOME is not expanded; use
                            shellHook for computed values). PATH, HOME and the like are refused.
shellHook: |                bash run when the shell starts, after the venv and scripts are set up
scripts: {NAME: COMMAND}    commands on PATH inside the shell (bin/NAME, run by bash;
                            arguments in "$@"); they work in `onboard shell P -- NAME` too
allowUnfree: true|false     unfree packages are refused unless allowed
unfree: [NAME, ...]         allow exactly these (by package name); allowUnfree: true without a
                            list allows every unfree package, and the plan says so
editors:                    """ + _editors_reference() + """
""" + _services_reference() + """
"""
