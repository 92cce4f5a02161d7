"""A Nix release tarball in the official layout, built from this machine's own Nix (Debian's
nix-bin): nix-VERSION-SYSTEM/{store/<hash>-nix-VERSION, .reginfo, install}.

The store path is made inside a mount namespace with an empty directory on /nix, so the
host's /nix is never touched. Built once per machine and kept in a shared temporary
directory (keyed on the binaries), with a file lock so parallel test workers wait for one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BUILDER_VERSION = "3"
NIX_CONFIG = "sandbox = false\nsubstituters =\nflake-registry =\nexperimental-features = nix-command flakes\n"
LINKS = ("nix-build", "nix-shell", "nix-env", "nix-store", "nix-instantiate", "nix-daemon", "nix-channel",
         "nix-collect-garbage", "nix-hash", "nix-prefetch-url", "nix-copy-closure")


@dataclass(frozen=True)
class TestTarball:
    path: Path
    sha256: str
    version: str
    system: str
    nix_store_path: str

    @property
    def filename(self) -> str:
        return self.path.name


def host_nix_version() -> str:
    out = subprocess.run(["nix", "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip().split()[-1]


def _system() -> str:
    import platform

    m = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m) + "-linux"


def _key() -> str:
    h = hashlib.sha256(BUILDER_VERSION.encode())
    for p in [Path("/usr/bin/nix"), *sorted(Path("/usr/lib/nix").glob("*.so"))]:
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


BUILD_SCRIPT = r"""
set -euo pipefail
mount --bind "$SCRATCH_NIX" /nix
export HOME="$SCRATCH_HOME" NIX_CONFIG="$NIX_CONFIG_TEXT"
P=$(nix-store --add "$PKG")
nix-store --dump-db "$P" > "$STAGE/.reginfo"
mkdir -p "$STAGE/store"
cp -a "$P" "$STAGE/store/"
echo "$P" > "$OUT_P"
"""


def build(dest: Path) -> TestTarball:
    version, system = host_nix_version(), _system()
    name = f"nix-{version}-{system}"
    work = Path(tempfile.mkdtemp(prefix="tarball-build-", dir=dest))
    try:
        pkg = work / f"nix-{version}"
        (pkg / "bin").mkdir(parents=True)
        (pkg / "lib").mkdir()
        shutil.copy2("/usr/bin/nix", pkg / "bin" / "nix")
        for so in Path("/usr/lib/nix").glob("*.so"):
            shutil.copy2(so, pkg / "lib" / so.name)
            subprocess.run(["patchelf", "--set-rpath", "$ORIGIN", str(pkg / "lib" / so.name)], check=True)
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN/../lib", str(pkg / "bin" / "nix")], check=True)
        for link in LINKS:
            os.symlink("nix", pkg / "bin" / link)
        stage = work / "stage" / name
        stage.mkdir(parents=True)
        scratch_nix = work / "scratch-nix"
        scratch_home = work / "scratch-home"
        scratch_nix.mkdir()
        scratch_home.mkdir()
        out_p = work / "store-path"
        env = dict(os.environ, SCRATCH_NIX=str(scratch_nix), SCRATCH_HOME=str(scratch_home),
                   NIX_CONFIG_TEXT=NIX_CONFIG, PKG=str(pkg), STAGE=str(stage), OUT_P=str(out_p))
        subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", BUILD_SCRIPT],
                       env=env, check=True, capture_output=True)
        store_path = out_p.read_text().strip()
        (stage / "install").write_text(
            "#!/bin/sh\n# test release built from the host's nix-bin\n"
            f'nix="{store_path}"\n'
            'echo "this test tarball is installed by onboard" >&2\nexit 1\n')
        os.chmod(stage / "install", 0o755)
        tmp_out = dest / (name + ".tar.xz.tmp")
        with open(tmp_out, "wb") as fh:
            tar = subprocess.Popen(["tar", "--owner=0", "--group=0", "--numeric-owner", "-C", str(stage.parent),
                                    "-cf", "-", name], stdout=subprocess.PIPE)
            subprocess.run(["xz", "-1", "-T2"], stdin=tar.stdout, stdout=fh, check=True)
            assert tar.wait() == 0
        final = dest / (name + ".tar.xz")
        os.replace(tmp_out, final)
        (dest / "store-path").write_text(store_path + "\n")
        return TestTarball(final, _sha256(final), version, system, store_path)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


def get_tarball() -> TestTarball:
    """The cached test tarball, built on first use (one build even with parallel workers)."""
    base = Path(tempfile.gettempdir()) / f"onboard-test-tarball-{_key()}"
    base.mkdir(exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = [p for p in base.glob("nix-*.tar.xz")]
        if found and (base / "store-path").exists():
            path = found[0]
            m = re.match(r"^nix-(.+)-([a-z0-9_]+-linux)\.tar\.xz$", path.name)
            assert m
            return TestTarball(path, _sha256(path), m.group(1), m.group(2),
                               (base / "store-path").read_text().strip())
        return build(base)
