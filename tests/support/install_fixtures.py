"""Shared pieces of the end-to-end install tests."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support.install_ns import Sandbox, diff

can_sandbox = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(c) for c in ("unshare", "nix", "patchelf", "xz", "useradd")),
    reason="needs root, unshare, Debian's nix-bin, patchelf, xz and useradd (tests/run installs them)")

#: onboard's own log of a failed run: kept on purpose (the error message names it)
ONBOARD_LOGS = ".local/state/onboard"

BUILD_EXPR = ('derivation {{ name = "e2e"; system = builtins.currentSystem; builder = "/bin/sh"; '
              'args = [ "-c" "while read k v rest; do [ $k = Uid: ] && echo {tag} $v > $out; done < /proc/self/status; true" ]; }}')


@pytest.fixture
def sandbox(tmp_path):
    sb = Sandbox(tmp_path / "sb")
    yield sb
    sb.cleanup()


def assert_unchanged(before: dict, after: dict, allow_home: str = "") -> None:
    for tree in ("nix", "etc", "home"):
        d = diff(before[tree], after[tree])
        if tree == "home" and allow_home:
            parents = {allow_home.rsplit("/", i)[0] for i in range(allow_home.count("/") + 1)}
            d = [x for x in d if not x.startswith(allow_home) and x.split(":", 1)[0] not in parents]
        assert d == [], f"{tree} changed: {d[:10]}"
