"""Which wheels fit one interpreter on one Linux machine (the small part of PEP 425/600 needed).

`Target` is the environment a profile's shell runs in: CPython `python` ("3.12") on Linux,
`machine` x86_64 or aarch64, with glibc (`glibc` is the newest glibc version the wheels
may need: the package set's). `Target.tags()` lists the wheel tags that fit, best first, in
the order pip and uv prefer them: `cp312-cp312-manylinux_2_17_x86_64`, ...abi3..., `py3-none-any`.
musllinux wheels never fit a glibc target; macOS and Windows wheels never fit Linux.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from onboard.core.python.markers import Environment

__all__ = ["Target", "parse_filename", "wheel_tags", "DEFAULT_GLIBC"]

#: the glibc assumed when the caller does not know the package set's (nixpkgs has shipped
#: 2.35 or newer since 2022)
DEFAULT_GLIBC = (2, 35)
#: the oldest manylinux each machine has wheels for
_OLDEST_GLIBC = {"x86_64": 5, "i686": 5, "aarch64": 17, "armv7l": 17, "ppc64le": 17, "s390x": 17}
_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_MACHINES = {"manylinux2014": ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x"),
                    "manylinux2010": ("x86_64", "i686"), "manylinux1": ("x86_64", "i686")}
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz")


@dataclass(frozen=True)
class Target:
    python: str = "3.12"  # major.minor
    machine: str = "x86_64"
    libc: str = "glibc"  # "glibc" or "musl"
    glibc: tuple[int, int] = DEFAULT_GLIBC  # the libc version (musl: (1, 2))
    full_version: str = ""  # the interpreter's full version when known, for python_full_version

    @classmethod
    def from_system(cls, system: str, python: str, glibc: Optional[tuple[int, int]] = None,
                    full_version: str = "") -> "Target":
        """A target for a Nix system ("x86_64-linux", "aarch64-linux"). ValueError for any other."""
        machine, _, kernel = system.partition("-")
        if kernel != "linux" or machine not in _OLDEST_GLIBC:
            raise ValueError(f"`{system}` is not a Linux system onboard picks wheels for "
                             "(x86_64-linux, aarch64-linux)")
        if not re.fullmatch(r"3\.\d{1,2}", python):
            raise ValueError(f"`{python}` is not a Python version like 3.12")
        return cls(python=python, machine=machine, glibc=glibc or DEFAULT_GLIBC, full_version=full_version)

    @property
    def minor(self) -> int:
        return int(self.python.split(".")[1])

    def environment(self) -> Environment:
        return Environment.for_target(self.python, self.machine, self.full_version)

    def platforms(self) -> list[str]:
        """Platform tags that fit, best first."""
        out: list[str] = []
        arch = self.machine
        major, newest = self.glibc
        if self.libc == "musl":
            out += [f"musllinux_{major}_{m}_{arch}" for m in range(newest, -1, -1)]
        else:
            for m in range(newest, _OLDEST_GLIBC.get(arch, 17) - 1, -1):
                out.append(f"manylinux_{major}_{m}_{arch}")
                legacy = _LEGACY.get((major, m))
                if legacy and arch in _LEGACY_MACHINES[legacy]:
                    out.append(f"{legacy}_{arch}")
        out.append(f"linux_{arch}")
        return out

    def tags(self) -> list[str]:
        return list(_tags(self))

    def rank(self, filename: str) -> Optional[int]:
        """The wheel's place in `tags()` (0 is best), or None when it does not fit."""
        order = _tag_index(self)
        best: Optional[int] = None
        for tag in wheel_tags(filename):
            i = order.get(tag)
            if i is not None and (best is None or i < best):
                best = i
        return best


@lru_cache(maxsize=32)
def _tags(t: Target) -> tuple[str, ...]:
    y = t.minor
    cp = f"cp3{y}"
    abi = f"{cp}m" if y < 8 else cp
    plats = t.platforms()
    out: list[str] = [f"{cp}-{abi}-{p}" for p in plats]
    out += [f"{cp}-abi3-{p}" for p in plats]
    out += [f"{cp}-none-{p}" for p in plats]
    for older in range(y - 1, 1, -1):
        out += [f"cp3{older}-abi3-{p}" for p in plats]
    pys = [f"py3{y}", "py3"] + [f"py3{m}" for m in range(y - 1, -1, -1)]
    for py in pys:
        out += [f"{py}-none-{p}" for p in plats]
    out.append(f"{cp}-none-any")
    out += [f"{py}-none-any" for py in pys]
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=32)
def _tag_index(t: Target) -> dict[str, int]:
    return {tag: i for i, tag in enumerate(_tags(t))}


def wheel_tags(filename: str) -> list[str]:
    """The tags a wheel's file name claims (compressed sets like py2.py3 expanded); [] for
    a name that is not a wheel's."""
    if not filename.endswith(".whl"):
        return []
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return []
    py, abi, plat = parts[-3:]
    return [f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split(".")]


def parse_filename(filename: str) -> Optional[tuple[str, str, str]]:
    """(name, version, "wheel" | "sdist") from an artifact's file name, or None."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6):
            return None
        return parts[0], parts[1], "wheel"
    for suffix in _SDIST_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, version = stem.rpartition("-")
            if sep and name and version[:1].isdigit():
                return name, version, "sdist"
    return None
