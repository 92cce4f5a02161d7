"""What a locked Python adds to the rendered shell (flake.nix and shell.nix).

- `python.nix` beside flake.nix: the fetches, native builds, the wheelhouse and the store-built
  venv (nixexpr.nix_expression, given the profile's package-set names by `native_nix`);
- packages: the profile's Python (already in `packages`), `uv`, and the `from_nix` packages;
- variables the entry reads (onboard.core.python.venv): ONBOARD_WHEELHOUSE (the wheelhouse's
  store path: an input of the shell, so it and every wheel are in the environment's closure),
  ONBOARD_PYTHON, ONBOARD_PYTHON_UV, ONBOARD_PYTHON_LOCK (the lock identity),
  ONBOARD_PYTHON_SITE (the from_nix packages' site-packages) and ONBOARD_PYTHON_VENV_LINK;
- the shellHook: no PYTHONPATH; with ONBOARD_PYTHON_STORE_ENV (`onboard shell --hermetic`)
  VIRTUAL_ENV and PATH for that store venv; else VIRTUAL_ENV and PATH for ROOT/.venv, a link to the venv of
  this lock identity, re-pointed when it names another one that is complete (so a rollback's
  older environment gets its own venv back); no pip, no uv at entry.

The venv's directory name is `<lock identity, 32 hex>-<store hash of the Python>`, under
`${ONBOARD_STATE_DIR:-$XDG_STATE_HOME/onboard}/venvs/`; venv.py computes the same name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from onboard.core.python.nixexpr import NativeNix, lock_identity, native_identity, nix_expression, nix_string

if TYPE_CHECKING:
    from onboard.core.profiles.model import PythonSpec

__all__ = ["python_nix", "locked_packages", "locked_env", "locked_hook", "identity_of", "native_nix",
           "STORE_ENV_VAR"]

#: set by `onboard shell --hermetic` to the store-built venv (packages.<system>.python-env)
STORE_ENV_VAR = "ONBOARD_PYTHON_STORE_ENV"

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_'-]*")


def _more(py: "PythonSpec") -> tuple[str, ...]:
    more: tuple[str, ...] = (py.attribute(), "from_nix=" + ",".join(sorted(py.from_nix)))
    if py.editable and py.lock:  # the venv holds a link to this checkout: its own venv
        import os

        more += ("editable=" + os.path.dirname(os.path.abspath(py.lock)),)
    return more


def native_nix(py: "PythonSpec") -> NativeNix:
    from onboard.core.profiles.render import attr_path

    attr = py.attribute()
    sites = tuple("${" + _pkg(attr, n) + "}/${pkgs." + attr + ".sitePackages}" for n in py.from_nix)
    return NativeNix(python=f"pkgs.{attr}", packages=f"pkgs.{attr}Packages",
                     libraries=tuple((n, attr_path(n)) for n in py.libraries),
                     build_inputs=tuple((n, attr_path(n)) for n in py.build_inputs), sites=sites)


def identity_of(py: "PythonSpec") -> str:
    return lock_identity(py.selection, *_more(py), *native_identity(py.selection, native_nix(py)))


def python_nix(py: "PythonSpec") -> str:
    return nix_expression(py.selection, *_more(py), native=native_nix(py))


def _pkg(attr: str, name: str) -> str:
    part = name if _ID.fullmatch(name) else nix_string(name)
    return f"pkgs.{attr}Packages.{part}"


def locked_packages(py: "PythonSpec") -> list[str]:
    return ["pkgs.uv"] + [_pkg(py.attribute(), n) for n in py.from_nix]


def locked_env(py: "PythonSpec") -> list[tuple[str, str]]:
    attr = py.attribute()
    site = ":".join("${" + _pkg(attr, n) + "}/${pkgs." + attr + ".sitePackages}" for n in py.from_nix)
    return [
        ("ONBOARD_WHEELHOUSE", '"${pyLock.wheelhouse}"'),
        ("ONBOARD_PYTHON", '"${pkgs.' + attr + '}/bin/python3"'),
        ("ONBOARD_PYTHON_UV", '"${pkgs.uv}/bin/uv"'),
        ("ONBOARD_PYTHON_LOCK", "pyLock.identity"),
        ("ONBOARD_PYTHON_SITE", '"' + site + '"'),
        ("ONBOARD_PYTHON_VENV_LINK", nix_string(py.venv_dir)),
    ]


def locked_hook(py: "PythonSpec") -> list[str]:
    return [
        f"# Python {py.version} from the lock (python.nix): the venv onboard synced exactly for it\n"
        "unset PYTHONPATH PYTHONHOME\n"
        "_ob_h=${ONBOARD_PYTHON%/bin/python3}; _ob_h=${_ob_h##*/}; _ob_h=${_ob_h%%-*}\n"
        "_ob_link=\"${ONBOARD_PROJECT_DIR:-$PWD}/$ONBOARD_PYTHON_VENV_LINK\"\n"
        "_ob_venv=\"${ONBOARD_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/onboard}/venvs/"
        "${ONBOARD_PYTHON_LOCK:0:32}-$_ob_h\"\n"
        "if [ -n \"${ONBOARD_PYTHON_STORE_ENV:-}\" ]; then\n"
        "  # onboard shell --hermetic: the venv built in the store (packages.<system>.python-env)\n"
        "  export VIRTUAL_ENV=\"$ONBOARD_PYTHON_STORE_ENV\"\n"
        "  export PATH=\"$ONBOARD_PYTHON_STORE_ENV/bin:$PATH\"\n"
        "elif [ -f \"$_ob_venv/.onboard-synced\" ]; then\n"
        "  if ! [ \"$_ob_link\" -ef \"$_ob_venv\" ] && { [ -L \"$_ob_link\" ] || [ ! -e \"$_ob_link\" ]; }; then\n"
        "    ln -sfn \"$_ob_venv\" \"$_ob_link.onboard-new\" && mv -Tf \"$_ob_link.onboard-new\" \"$_ob_link\"\n"
        "  fi\n"
        "  export VIRTUAL_ENV=\"$_ob_link\"\n"
        "  export PATH=\"$_ob_link/bin:$PATH\"\n"
        "else\n"
        "  echo \"onboard: the Python virtualenv of this lock is missing ($_ob_venv): "
        "onboard shell makes it\" >&2\n"
        "fi\n"
        "unset _ob_h _ob_link _ob_venv\n"
    ]
