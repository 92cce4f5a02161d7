"""What the renderer and the shell entry need from a `Selection`: pure text, deterministic.

- `requirements_text(sel)`: the file `uv pip sync --require-hashes` takes, one
  `name==version --hash=sha256:...` line per chosen artifact, sorted;
- `lock_identity(sel, *more)`: a sha256 over the chosen artifacts and the options that chose
  them (target, extras, groups), for the per-lock virtualenv's directory name;
- `nix_expression(sel)`: a Nix function `{ bash, coreutils, system }: { wheelhouse; artifacts;
  identity; }`. Each artifact is `import <nix/fetchurl.nix> { url; sha256; name; }` (a
  fixed-output fetch that works in a pure flake from Nix 2.8 on; the store path's name is
  the artifact's file name). The wheelhouse is one derivation, built by `${bash}/bin/bash`
  with `${coreutils}/bin` on PATH, holding `wheels/<file name>` links to every artifact (its
  closure holds them all) and `requirements.txt`. Real nixpkgs and the test stand-in both
  offer `bash` and `coreutils`.

At shell entry: `uv pip sync --no-index --find-links $WHEELHOUSE/wheels --require-hashes
$WHEELHOUSE/requirements.txt` into the venv named by `identity`.
"""

from __future__ import annotations

import hashlib
import json
import re

from onboard.core.python.model import STORE_NAME_RE
from onboard.core.python.select import Selection

__all__ = ["requirements_text", "lock_identity", "nix_expression", "nix_string", "store_name",
           "SAFE_FILENAME_RE", "IDENTITY_VERSION"]

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


def nix_expression(sel: Selection, *more: str) -> str:
    """The Nix text for the selection's fetches and wheelhouse (see the module's docstring).
    ValueError when an artifact has no URL or a file name the wheelhouse cannot hold."""
    ident = lock_identity(sel, *more)
    fetches: list[str] = []
    entries: list[str] = []
    links: list[str] = []
    for i, c in enumerate(sel.chosen):
        a = c.artifact
        if not a.url:
            raise ValueError(f"{c.name} {c.version}: no download URL for {a.filename}")
        if not SAFE_FILENAME_RE.match(a.filename):
            raise ValueError(f"{c.name} {c.version}: the file name `{a.filename}` cannot be linked in the wheelhouse")
        fetches.append(f"  a{i} = import <nix/fetchurl.nix> {{ url = {nix_string(a.url)}; "
                       f"sha256 = {nix_string(a.sha256)}; name = {nix_string(store_name(a.filename))}; }};")
        entries.append(f"    {{ file = {nix_string(a.filename)}; name = {nix_string(c.name)}; "
                       f"version = {nix_string(c.version)}; build = {'true' if c.needs_build else 'false'}; "
                       f"src = a{i}; }}")
        links.append(f'ln -s ${{a{i}}} "$out/wheels/{a.filename}"')
    body = "".join(f + "\n" for f in fetches)
    listed = "".join(e + "\n" for e in entries)
    script = "\n".join(["mkdir -p \"$out/wheels\"", *(f"      {ln}" for ln in links),
                        "      cp \"$requirementsPath\" \"$out/requirements.txt\"",
                        f"      echo {ident} > \"$out/identity\"",
                        "      true"])  # a builtin last: Nix 2.8 can kill a builder whose last command is exec'd
    return f"""# Python artifacts chosen from {sel.lock_format or "the lock"} for CPython {sel.target.python} \
on {sel.target.machine}-linux (written by onboard)
{{ bash, coreutils, system }}:
let
{body}  artifacts = [
{listed}  ];
in
{{
  inherit artifacts;
  identity = "{ident}";
  wheelhouse = derivation {{
    name = "python-wheelhouse-{ident[:16]}";
    inherit system;
    builder = "${{bash}}/bin/bash";
    PATH = "${{coreutils}}/bin";
    requirements = {nix_string(requirements_text(sel))};
    passAsFile = [ "requirements" ];
    args = [ "-e" "-c" ''
      {script}
    '' ];
  }};
}}
"""
