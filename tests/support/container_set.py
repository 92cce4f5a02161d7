"""A copy of the stand-in package set whose `bashInteractive` and `hello` run inside a container.

The stand-in's packages link to the host's tools (/bin/bash, /usr/bin/...), which an image of
the closure does not have. Here bash is copied into the store with the shared libraries it
loads and its interpreter and rpath patched to them (the way nixpkgs' bootstrap tools are
made), `hello` is a script run by that bash, and `payload` (for the benchmark) is a tree of
many files of real sizes. With `python=True`, the Python of the host's version is boxed the
same way: the host's interpreter and standard library (less its tests and the host's
site-packages) with the libraries it and its extension modules load. Built by /bin/bash with the host's ldd, cp and patchelf, so the same
host gives the same store paths and bytes in any store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.standin import STANDIN

EXTRA = r"""
  boxed = {
    bashInteractive = mk {
      pname = "bash-interactive"; version = "5-boxed"; name = "bash-interactive-5-boxed";
      script = ''
        mkdir -p "$out/bin" "$out/lib"
        cp -L /bin/bash "$out/bin/bash"
        for l in $(ldd /bin/bash | grep -o '/[^ ]*'); do cp -L "$l" "$out/lib/"; done
        chmod -R u+w "$out"
        interp=$(patchelf --print-interpreter /bin/bash)
        patchelf --set-interpreter "$out/lib/$(basename "$interp")" --force-rpath --set-rpath "$out/lib" "$out/bin/bash"
        ln -s bash "$out/bin/sh"
        chmod -R a-w "$out"
      '';
    };
    hello = mk {
      pname = "hello"; version = "2.12"; name = "hello-2.12-boxed";
      extra.bash = boxed.bashInteractive;
      script = ''
        mkdir -p "$out/bin"
        printf '#!%s/bin/bash\necho "Hello, world!"\n' "$bash" > "$out/bin/hello"
        chmod +x "$out/bin/hello"
      '';
    };
    payload = mk {
      pname = "payload"; version = "1"; name = "payload-1";
      extra.src = PAYLOAD;
      script = ''
        mkdir -p "$out/share"
        cp -r --no-preserve=mode "$src" "$out/share/payload"
      '';
    };
  };
"""

PYTHON = r"""
  boxedPython = let
    self = mk {
      pname = "python3"; version = "VERSION.0"; name = "python3-VERSION-boxed";
      script = ''
        v=VERSION
        mkdir -p "$out/bin" "$out/lib/sys" "$out/lib/python$v"
        cp -L /usr/bin/python$v "$out/bin/python$v"
        (cd /usr/lib/python$v && tar -cf - --exclude=./test --exclude=./idlelib --exclude=./tkinter \
          --exclude=./turtledemo --exclude=./ensurepip --exclude=./lib2to3 --exclude=./site-packages \
          --exclude=./dist-packages --exclude=__pycache__ .) | (cd "$out/lib/python$v" && tar -xf - --no-same-owner)
        chmod -R u+w "$out"
        for f in /usr/bin/python$v /usr/lib/python$v/lib-dynload/*.so; do
          for l in $(ldd "$f" | grep -o '/[^ ]*'); do [ -e "$out/lib/sys/$(basename "$l")" ] || cp -L "$l" "$out/lib/sys/"; done
        done
        chmod -R u+w "$out"
        interp=$(patchelf --print-interpreter /usr/bin/python$v)
        patchelf --set-interpreter "$out/lib/sys/$(basename "$interp")" --force-rpath --set-rpath "$out/lib/sys" "$out/bin/python$v"
        for f in "$out"/lib/python$v/lib-dynload/*.so; do patchelf --force-rpath --set-rpath "$out/lib/sys" "$f"; done
        ln -s python$v "$out/bin/python3"
        ln -s python$v "$out/bin/python"
        chmod -R a-w "$out"
      '';
      passthru = {
        pythonVersion = "VERSION";
        sitePackages = "lib/pythonVERSION/site-packages";
        pkgs = pkgs.python3Packages;
        withPackages = f: mkEnv "python3-VERSION-env" ([ self ] ++ f pkgs.python3Packages);
        interpreter = "${self}/bin/python3";
      };
    };
  in self;
"""


def make(dest: Path, payload: str = "/usr/share/doc", python: str = "") -> Path:
    """A package set at `dest` (a copy of tests/standin) with the boxed packages in place of
    bashInteractive and hello, and `payload` (a copy of the host directory `payload`); with
    `python` (the host's major.minor), its boxed interpreter as python3 and pythonXY."""
    shutil.copytree(STANDIN, dest, ignore=shutil.ignore_patterns("uv-bin"))
    nix = dest / "default.nix"
    text = nix.read_text()
    tail = "in\npkgs"
    assert text.rstrip().endswith(tail), "the stand-in's default.nix changed shape"
    cut = text.rstrip()[: -len(tail)]
    extra = EXTRA.replace("PAYLOAD", f'"{payload}"')
    over = ""
    if python:
        extra += PYTHON.replace("VERSION", python)
        over = f"python3 = boxedPython; python{python.replace('.', '')} = boxedPython; "
    # the let ends just before `in`: add `boxed` to it, and put its packages over pkgs'
    nix.write_text(cut + extra + "in\npkgs // { inherit (boxed) bashInteractive hello payload; "
                   "bash = boxed.bashInteractive; " + over + "}\n")
    return dest
