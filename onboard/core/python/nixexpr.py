"""What the renderer and the shell entry need from a `Selection`: pure text, deterministic.

- `requirements_text(sel)`: the file `uv pip sync --require-hashes` takes, one
  `name==version --hash=sha256:...` line per chosen artifact, sorted;
- `lock_identity(sel, *more)`: a sha256 over the chosen artifacts and the options that chose
  them (target, extras, groups), for the per-lock virtualenv's directory name;
- `nix_expression(sel, native=NativeNix(...))`: a Nix function `{ bash, coreutils, system,
  pkgs ? null }: { wheelhouse; artifacts; identity; env; }`. Each artifact is `import
  <nix/fetchurl.nix> { url; sha256; name; }` (a fixed-output fetch that works in a pure flake
  from Nix 2.8 on; the store path's name is the artifact's file name). An sdist, and a wheel
  with a platform tag, goes through a derivation of python-native.py (nativebuild.py: built
  with the package set's compiler / RUNPATH set to `python.libraries`); its output holds the
  wheel and its `requirement.txt` line. The wheelhouse is one derivation, built by
  `${bash}/bin/bash` with `${coreutils}/bin` on PATH, holding `wheels/<file name>` links to
  every wheel (its closure holds them all) and `requirements.txt` (the lock's hashes, and the
  built ones' computed in the build). `env` is the locked set as a venv built in the store
  (`packages.<system>.python-env` of the flake). `pkgs` (the package set) is needed only by
  native code and `env`.

At shell entry: `uv pip sync --no-index --find-links $WHEELHOUSE/wheels --require-hashes
$WHEELHOUSE/requirements.txt` into the venv named by `identity`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from onboard.core.python.model import STORE_NAME_RE
from onboard.core.python.select import Chosen, Selection

__all__ = ["requirements_text", "lock_identity", "nix_expression", "nix_string", "store_name",
           "SAFE_FILENAME_RE", "IDENTITY_VERSION", "NativeNix", "needs_native", "native_identity",
           "builder_text", "BUILDER_FILE", "PTH_FILE"]

#: the native builder's file beside python.nix (a copy of nativebuild.py)
BUILDER_FILE = "python-native.py"
#: the from_nix packages' site-packages, listed in the venv (venv.py writes the same file)
PTH_FILE = "_onboard_from_nix.pth"

#: file names the wheelhouse links under (wheel and sdist names never need more)
SAFE_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: bumped when what the identity covers changes, so every venv is made again
IDENTITY_VERSION = 1


def requirements_text(sel: Selection) -> str:
    """`name==version --hash=sha256:HEX` per chosen artifact, sorted by name; "" when none."""
    lines = sorted(c.requirement for c in sel.chosen)
    return "".join(line + "\n" for line in lines)


def lock_identity(sel: Selection, *more: str) -> str:
    """64 hex digits naming what the venv holds. `more` mixes in what else the venv depends
    on (the interpreter's store path, say)."""
    t = sel.target
    doc = {
        "v": IDENTITY_VERSION,
        "target": [t.python, t.machine, t.libc, list(t.glibc)],
        "extras": list(sel.extras), "groups": list(sel.groups),
        "artifacts": sorted([c.name, c.version, c.artifact.filename, c.artifact.sha256] for c in sel.chosen),
        "more": list(more),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def nix_string(s: str) -> str:
    """`s` as a Nix double-quoted string."""
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return '"' + out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def store_name(filename: str) -> str:
    """The store path name for an artifact: its file name when Nix allows it, else the
    file name with every other character made `_`."""
    if STORE_NAME_RE.match(filename):
        return filename
    name = re.sub(r"[^A-Za-z0-9+\-._?=]", "_", filename)
    return name.lstrip(".") or "artifact"


@dataclass(frozen=True)
class NativeNix:
    """What python.nix needs of the profile for native code and the store-built venv: Nix
    expressions (`pkgs.python312`, `pkgs.stdenv.cc.cc.lib`) with the names the profile gave."""

    python: str  # the interpreter, e.g. "pkgs.python312"
    packages: str  # its package set, e.g. "pkgs.python312Packages"
    libraries: tuple[tuple[str, str], ...] = ()  # (profile name, expression)
    build_inputs: tuple[tuple[str, str], ...] = ()
    sites: tuple[str, ...] = ()  # from_nix site-packages, as Nix string text
    uv: str = "pkgs.uv"
    patchelf: str = "pkgs.patchelf"
    cc: str = "pkgs.stdenv.cc"
    builder: str = "./" + BUILDER_FILE


def needs_native(sel: Selection) -> bool:
    """Whether python.nix builds anything beyond fetches: an sdist, or a platform wheel's fixup."""
    from onboard.core.python.native import needs_fixup

    return bool(sel.needs_build) or any(needs_fixup(c) for c in sel.chosen)


def native_identity(sel: Selection, native: Optional[NativeNix]) -> tuple[str, ...]:
    """What else the venv's identity covers when native code is built: the builder, the
    libraries and build inputs, each sdist's build backend."""
    if native is None or not needs_native(sel):
        return ()
    builds = sorted([k, b.names, sorted([w.name, w.version, w.artifact.sha256] for w in b.wheels), b.from_set]
                    for k, b in sel.native.items())
    return ("native=" + json.dumps({"builder": builder_digest(), "libraries": [n for n, _e in native.libraries],
                                    "build_inputs": [n for n, _e in native.build_inputs], "builds": builds},
                                   sort_keys=True, separators=(",", ":")),)


def builder_text() -> str:
    """The text of the native builder (nativebuild.py), rendered as python-native.py."""
    from pathlib import Path

    return Path(__file__).with_name("nativebuild.py").read_text(encoding="utf-8")


def builder_digest() -> str:
    return hashlib.sha256(builder_text().encode("utf-8")).hexdigest()


def nix_expression(sel: Selection, *more: str, native: Optional[NativeNix] = None) -> str:
    """The Nix text for the selection's fetches, native builds, wheelhouse and store-built venv
    (see the module's docstring). ValueError when an artifact has no URL or a file name the
    wheelhouse cannot hold, or an sdist must be built and `native` is not given."""
    from onboard.core.python.native import needs_fixup

    ident = lock_identity(sel, *more, *native_identity(sel, native))
    fetches: list[str] = []
    entries: list[str] = []
    links: list[str] = []
    natives: list[str] = []
    static: list[str] = []  # requirement lines known now (the lock's hashes)
    index: dict[tuple[str, str], str] = {}  # (file name, sha256) -> the fetch's name

    def fetch(c: Chosen) -> str:
        a = c.artifact
        if (a.filename, a.sha256) in index:
            return index[(a.filename, a.sha256)]
        if not a.url:
            raise ValueError(f"{c.name} {c.version}: no download URL for {a.filename}")
        if not SAFE_FILENAME_RE.match(a.filename):
            raise ValueError(f"{c.name} {c.version}: the file name `{a.filename}` cannot be linked in the wheelhouse")
        var = f"a{len(index)}"
        index[(a.filename, a.sha256)] = var
        fetches.append(f"  {var} = import <nix/fetchurl.nix> {{ url = {nix_string(a.url)}; "
                       f"sha256 = {nix_string(a.sha256)}; name = {nix_string(store_name(a.filename))}; }};")
        return var

    for i, c in enumerate(sel.chosen):
        a = c.artifact
        var = fetch(c)
        entries.append(f"    {{ file = {nix_string(a.filename)}; name = {nix_string(c.name)}; "
                       f"version = {nix_string(c.version)}; build = {'true' if c.needs_build else 'false'}; "
                       f"src = {var}; }}")
        if c.needs_build or (native is not None and needs_fixup(c)):
            if native is None:
                raise ValueError(f"{c.name} {c.version}: {a.filename} must be built, and no package set was given")
            n = f"n{len(natives)}"
            natives.append(_native_drv(n, c, var, native, sel, fetch))
            links.append(f'for f in ${{{n}}}/*.whl; do ln -s "$f" "$out/wheels/"; done')
            links.append(f'cat ${{{n}}}/requirement.txt >> "$out/requirements.txt"')
        else:
            links.append(f'ln -s ${{{var}}} "$out/wheels/{a.filename}"')
            static.append(c.requirement)
    requirements = "".join(line + "\n" for line in sorted(static))
    body = "".join(f + "\n" for f in fetches)
    listed = "".join(e + "\n" for e in entries)
    script = "\n".join(["mkdir -p \"$out/wheels\"",
                        "      cp \"$requirementsPath\" \"$out/requirements.txt\"",
                        *(f"      {ln}" for ln in links),
                        *(["      sort -o \"$out/requirements.txt\" \"$out/requirements.txt\""] if natives else []),
                        f"      echo {ident} > \"$out/identity\"",
                        "      true"])  # a builtin last: Nix 2.8 can kill a builder whose last command is exec'd
    native_part = ""
    if natives:
        assert native is not None
        native_part = (
            "  # native code: sdists built and platform wheels patched with the package set (python-native.py)\n"
            f"  libraries = [ {' '.join(e for _n, e in native.libraries)} ];\n"
            f"  buildInputs = [ {' '.join(e for _n, e in native.build_inputs)} ];\n"
            "  outputsOf = p: map (o: p.${o}) (p.outputs or [ \"out\" ]);\n"
            "  native = mode: attrs: derivation ({\n"
            "    inherit system;\n"
            "    builder = \"${python}/bin/python3\";\n"
            "    python = \"${python}/bin/python3\";\n"
            f"    args = [ \"-I\" {native.builder} mode ];\n"
            "    inherit libraries coreutils;\n"
            f"    libraryNames = {nix_string(' '.join(n for n, _e in native.libraries))};\n"
            "    buildInputs = builtins.concatMap outputsOf buildInputs;\n"
            f"    buildInputNames = {nix_string(' '.join(n for n, _e in native.build_inputs))};\n"
            f"    patchelf = {native.patchelf};\n"
            "  } // attrs);\n"
            + "".join(n + "\n" for n in natives))
    env_part = _env_drv(native) if native is not None else ""
    return f"""# Python artifacts chosen from {sel.lock_format or "the lock"} for CPython {sel.target.python} \
on {sel.target.machine}-linux (written by onboard)
{{ bash, coreutils, system, pkgs ? null }}:
let
{body}{_python_line(native)}{native_part}  artifacts = [
{listed}  ];
  wheelhouse = derivation {{
    name = "python-wheelhouse-{ident[:16]}";
    inherit system;
    builder = "${{bash}}/bin/bash";
    PATH = "${{coreutils}}/bin";
    requirements = {nix_string(requirements)};
    passAsFile = [ "requirements" ];
    args = [ "-e" "-c" ''
      {script}
    '' ];
  }};
{env_part}in
{{
  inherit artifacts wheelhouse{" env" if env_part else ""};
  identity = "{ident}";
}}
"""


def _python_line(native: Optional[NativeNix]) -> str:
    return f"  python = {native.python};\n" if native is not None else ""


def _native_drv(var: str, c: Chosen, src: str, native: NativeNix, sel: Selection, fetch: Any) -> str:
    a = c.artifact
    common = (f"name = {nix_string(store_name(f'python-{c.name}-{c.version}-' + ('built' if c.needs_build else 'patched')))}; "
              f"src = {src}; srcName = {nix_string(a.filename)}; pkgName = {nix_string(c.name)}; "
              f"pkgVersion = {nix_string(c.version)};")
    if not c.needs_build:
        return f"  {var} = native \"wheel\" {{ {common} }};"
    build = sel.native.get(c.name)
    if build is None:
        raise ValueError(f"{c.name} {c.version}: no build backend named for {a.filename} (python.build_systems)")
    wheels = [fetch(w) for w in build.wheels]
    sites = ['"${' + native.packages + "." + _attr(n) + '}/${python.sitePackages}"' for n in build.from_set]
    backend = ""
    if wheels:  # the lock's wheels of the backend, unpacked once (shared by every sdist naming them)
        digest = hashlib.sha256(" ".join(sorted(w.artifact.sha256 for w in build.wheels)).encode()).hexdigest()
        backend = (f"  {var}b = native \"backend\" {{ name = \"python-build-backend-{digest[:16]}\"; "
                   f"backendWheels = [ {' '.join(wheels)} ]; }};\n")
        sites.insert(0, f'"${{{var}b}}/site"')
    return (f"{backend}  {var} = native \"sdist\" {{\n    {common}\n    cc = {native.cc};\n"
            f"    backendSites = [ {' '.join(sites)} ];\n"
            f"    backendNames = {nix_string(' '.join(build.names))};\n  }};")


def _attr(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_'-]*", name) else nix_string(name)


def _env_drv(native: NativeNix) -> str:
    """The locked set as a venv built in the store (`packages.<system>.python-env`): uv, offline,
    from the wheelhouse; no network, nothing of the builder's machine."""
    sites = ":".join(native.sites)
    return f"""  env = derivation {{
    name = "python-env";
    inherit system wheelhouse;
    builder = "${{bash}}/bin/bash";
    PATH = "${{coreutils}}/bin";
    uv = "${{{native.uv}}}/bin/uv";
    python = "${{python}}/bin/python3";
    site = "{sites}";
    args = [ "-e" "-c" ''
      export HOME="$TMPDIR" UV_NO_CONFIG=1 UV_PYTHON_DOWNLOADS=never UV_OFFLINE=1 UV_NO_PROGRESS=1 UV_NO_CACHE=1
      "$uv" venv --no-config --quiet --python "$python" "$out"
      if [ -s "$wheelhouse/requirements.txt" ]; then
        "$uv" pip sync --no-config --quiet --offline --no-index --link-mode copy --find-links "$wheelhouse/wheels" \\
          --require-hashes --python "$out/bin/python" "$wheelhouse/requirements.txt"
      fi
      if [ -n "$site" ]; then
        for d in "$out"/lib/python3*/site-packages; do echo "$site" | tr ':' '\\n' > "$d/{PTH_FILE}"; done
      fi
      true
    '' ];
  }};
"""
