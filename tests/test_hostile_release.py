"""Hostile release tarballs, each built here: a tarball swapped by path while onboard checks
and unpacks it (raced on purpose, many times), and releases whose .reginfo, store/ entries or
install script name paths outside /nix/store. Each is either the genuine release installed or
a clear error naming the culprit, with nothing changed on disk."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

from onboard.core.engine.action import Context
from onboard.core.events import ActionProgress, Collector
from onboard.core.nixinstall.actions.common import UNPACKED_MARKER
from onboard.core.nixinstall.actions.store_paths import StorePaths
from onboard.core.nixinstall.actions.unpack_release import UnpackRelease
from onboard.core.nixinstall.source import ChecksumError
from onboard.core.nixinstall.release import ReleaseInfo, parse_reginfo, release_info
from onboard.core.nixinstall.unpack import NIX_BASE32, UnpackError, check_store_path, extract_release, safe_extract
from tests.support.install_fixtures import ONBOARD_LOGS, assert_unchanged, can_sandbox, sandbox  # noqa: F401
from tests.support.install_ns import Sandbox, snapshot
from tests.support.install_tarball import get_tarball

TOP = "nix-2.8.0-x86_64-linux"
S = "/nix/store"


def fake_hash(seed: str) -> str:
    """32 characters of Nix base-32, different for each seed."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(NIX_BASE32[b % 32] for b in digest)


H = fake_hash("nix")
H2 = fake_hash("evil")
NIX = f"{S}/{H}-nix-2.8.0"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(path: str, refs: tuple[str, ...] = (), deriver: str = "") -> str:
    """One .reginfo record, as `nix-store --dump-db` writes it."""
    return "\n".join([path, "0" * 64, "1234", deriver, str(len(refs)), *refs]) + "\n"


def install_script(nix: str) -> str:
    return f'#!/bin/sh\nnix="{nix}"\necho "not run by onboard" >&2\nexit 1\n'


def write_release(root: Path, *, store_dir: str = S, payload: bytes = b"genuine\n", nix_line: str = "",
                  reginfo: str = "") -> Path:
    """A small release in the official layout under root/TOP (its Nix is a stand-in)."""
    top = root / TOP
    nix = f"{store_dir}/{H}-nix-2.8.0"
    pkg = top / "store" / os.path.basename(nix)
    (pkg / "bin").mkdir(parents=True)
    (pkg / "bin" / "nix").write_text("#!/bin/sh\necho stand-in\n")
    os.chmod(pkg / "bin" / "nix", 0o755)
    os.symlink("nix", pkg / "bin" / "nix-store")
    (pkg / "share").mkdir()
    (pkg / "share" / "payload").write_bytes(payload)
    (top / ".reginfo").write_text(reginfo or record(nix))
    (top / "install").write_text(install_script(nix_line or nix))
    return top


def pack(top: Path, out: Path) -> Path:
    """TOP as the release tarball `out` (.tar.xz, as the official ones), written atomically."""
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as fh:
        tar = subprocess.Popen(["tar", "--owner=0", "--group=0", "--numeric-owner", "-C", str(top.parent),
                                "-cf", "-", top.name], stdout=subprocess.PIPE)
        subprocess.run(["xz", "-0", "-T1"], stdin=tar.stdout, stdout=fh, check=True)
        assert tar.wait() == 0
    os.replace(tmp, out)
    return out


def tree(root: Path) -> dict[str, tuple]:
    """What is under root: kind and content (or link target), modes and owners left out."""
    return {k: (v[0], v[4]) for k, v in snapshot(root).items()}


class Swapper(threading.Thread):
    """Renames one of `variants` over `path` in turn, every `every` seconds, until stopped."""

    def __init__(self, path: Path, variants: list[Path], every: float = 0.001) -> None:
        super().__init__(daemon=True)
        self.path, self.variants, self.every = path, variants, every
        self.halt = threading.Event()
        self.swaps = 0

    def run(self) -> None:
        tmp = self.path.with_name(self.path.name + ".swap")
        while not self.halt.is_set():
            src = self.variants[self.swaps % len(self.variants)]
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.link(src, tmp)  # a hard link, then a rename: the path is never missing
            os.replace(tmp, self.path)
            self.swaps += 1
            time.sleep(self.every)

    def __enter__(self) -> "Swapper":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.halt.set()
        self.join(10)


@pytest.fixture
def releases(tmp_path):
    """(genuine, hostile) small release tarballs: the same layout, the hostile one's payload differs.

    The payload is incompressible and a few MB, so hashing and unpacking take a while."""
    payload = os.urandom(3 << 20)
    genuine = pack(write_release(tmp_path / "g", payload=payload), tmp_path / "genuine.tar.xz")
    hostile = pack(write_release(tmp_path / "h", payload=b"HOSTILE" + payload[7:]), tmp_path / "hostile.tar.xz")
    return genuine, hostile


# -- the SHA-256 is of the bytes unpacked -----------------------------------------------------------


def test_the_hash_is_of_the_bytes_extracted_even_when_the_path_is_swapped_meanwhile(tmp_path, releases):
    genuine, hostile = releases
    for first, second, made_from in ((genuine, hostile, "g"), (hostile, genuine, "h")):
        path = tmp_path / "release.tar.xz"
        os.link(first, path)
        swapped = []

        def swap(event: object) -> None:  # on the first progress event: mid-extraction
            if isinstance(event, ActionProgress) and not swapped:
                os.link(second, tmp_path / "next")
                os.replace(tmp_path / "next", path)
                swapped.append(event.done)

        dest = tmp_path / f"out-{made_from}"
        got = extract_release(path, dest, emit=swap)
        assert swapped and swapped[0] < first.stat().st_size  # the swap came before the end
        assert sha256_file(path) == sha256_file(second)
        assert got.sha256 == sha256_file(first) and got.size == first.stat().st_size
        assert tree(dest) == tree(tmp_path / made_from)
        os.unlink(path)


def test_the_hash_counts_bytes_after_the_tar_end_marker(tmp_path):
    top = write_release(tmp_path / "r")
    plain = tmp_path / "r.tar"
    subprocess.run(["tar", "-C", str(top.parent), "-cf", str(plain), top.name], check=True)
    with open(plain, "ab") as fh:
        fh.write(b"\0" * 512 + b"trailing bytes that tar never reads")
    got = extract_release(plain, tmp_path / "out")
    assert got.sha256 == sha256_file(plain) and got.size == plain.stat().st_size
    # and so a file that differs only after the end marker is caught
    with pytest.raises(ChecksumError):
        safe_extract(plain, tmp_path / "out2", sha256=hashlib.sha256(b"other").hexdigest())


def test_a_wrong_hash_removes_what_was_unpacked_and_names_both_hashes(tmp_path, releases):
    genuine, hostile = releases
    dest = tmp_path / "out"
    events = Collector()
    with pytest.raises(ChecksumError) as info:
        safe_extract(hostile, dest, sha256=sha256_file(genuine).upper(), emit=events, action_id="u")
    msg = str(info.value)
    assert f"expected {sha256_file(genuine)}, got {sha256_file(hostile)}" in msg
    assert "nothing was installed" in msg and info.value.hint
    assert list(dest.iterdir()) == []
    prog = events.of(ActionProgress)
    assert prog and all(p.unit == "bytes" and p.total == hostile.stat().st_size for p in prog)


def test_an_unpack_error_in_a_file_that_does_not_match_is_a_checksum_error(tmp_path, releases):
    genuine, _hostile = releases
    bad = tmp_path / "bad.tar.xz"
    with tarfile.open(bad, "w:xz") as tf:
        tf.addfile(tarfile.TarInfo("top/../../escape"), io.BytesIO(b""))
    with pytest.raises(ChecksumError, match=f"expected {sha256_file(genuine)}, got {sha256_file(bad)}"):
        safe_extract(bad, tmp_path / "out", sha256=sha256_file(genuine))
    with pytest.raises(UnpackError, match="climbs out"):  # without a hash to check: the entry itself
        safe_extract(bad, tmp_path / "out")


def _unpack(archive: Path, sha: str, staging: Path, events: Optional[Collector] = None) -> UnpackRelease:
    a = UnpackRelease(archive=str(archive), sha256=sha, staging=str(staging))
    ctx = Context(emit=events or Collector(), action_id=a.id())
    a.execute(ctx, a.snapshot(ctx))
    return a


def test_unpack_release_keeps_progress_and_accepts_only_a_matching_release(tmp_path, releases):
    genuine, hostile = releases
    staging = tmp_path / "var" / "release"
    events = Collector()
    a = _unpack(genuine, sha256_file(genuine), staging, events)
    assert a.check(Context())
    assert (staging / UNPACKED_MARKER).read_text() == f"{sha256_file(genuine)}\n{TOP}\n"
    assert tree(staging / TOP) == tree(tmp_path / "g" / TOP)
    assert sorted(p.name for p in staging.parent.iterdir()) == ["release"]  # nothing beside it
    prog = events.of(ActionProgress)
    assert prog[-1].done == prog[-1].total == genuine.stat().st_size
    assert "SHA-256" in prog[0].text
    # a second run with the hostile file in its place: refused, and the staging area is gone
    with pytest.raises(ChecksumError, match=f"expected {sha256_file(genuine)}, got {sha256_file(hostile)}"):
        _unpack(hostile, sha256_file(genuine), staging)
    assert list(staging.parent.iterdir()) == []


def test_a_tarball_renamed_over_every_millisecond_is_never_unpacked_unchecked(tmp_path, releases):
    """The race on purpose: the genuine and a hostile file alternate on the path every ~1 ms
    while UnpackRelease checks and unpacks it. Each run unpacks the genuine release or fails
    with a checksum error naming the hostile file's hash; never anything else."""
    genuine, hostile = releases
    want, sha, bad_sha = tree(tmp_path / "g" / TOP), sha256_file(genuine), sha256_file(hostile)
    path = tmp_path / "release.tar.xz"
    staging = tmp_path / "var" / "release"
    os.link(genuine, path)
    outcomes = {"genuine": 0, "checksum": 0}
    with Swapper(path, [hostile, genuine]) as swapper:
        for _ in range(40):
            try:
                _unpack(path, sha, staging)
            except ChecksumError as exc:
                assert f"expected {sha}, got {bad_sha}" in str(exc)
                assert list(staging.parent.iterdir()) == []
                outcomes["checksum"] += 1
            else:
                assert tree(staging / TOP) == want
                assert (staging / UNPACKED_MARKER).read_text().startswith(sha + "\n")
                outcomes["genuine"] += 1
        swaps = swapper.swaps
    assert swaps > 40, "the swapping thread did not run"
    # both ends of the race were hit (each is about half the time)
    assert outcomes["genuine"] and outcomes["checksum"], outcomes


# -- store paths that climb out --------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    NIX,
    f"{S}/{H}-a+b-c.d_e?f=g",
    f"{S}/{H}-" + "x" * 211,
    f"{S}/{H}-nix-2.8.0.drv",
])
def test_store_paths_nix_accepts(path):
    assert check_store_path(path) == path


@pytest.mark.parametrize("path,reason", [
    (f"{S}/../../etc/{H}-x", "climbs out of /nix/store with '..'"),
    (f"{S}/..", "climbs out"),
    (f"{S}/{H}-x/../../../etc", "climbs out"),
    (f"/etc/{H}-x", "it is not in /nix/store"),
    (f"nix/store/{H}-x", "it is not in /nix/store"),
    (f"{S}", "it is /nix/store itself"),
    (f"/nix/storage/{H}-x", "it is not in /nix/store"),
    (f"/nix//store/{H}-x", "not written as a plain path in the store"),
    (f"{S}//{H}-x", "extra slash"),
    (f"{S}/./{H}-x", "extra slash or '.'"),
    (f"{S}/{H}-x/", "extra slash"),
    (f"{S}/{H}-x/bin/nix", "nested path"),
    (f"{S}/evil", "not <32-character hash>-<name>"),
    (f"{S}/{H}", "not <32-character hash>-<name>"),
    (f"{S}/{H}-", "not <32-character hash>-<name>"),
    (f"{S}/{H}x-nix", "not <32-character hash>-<name>"),
    (f"{S}/{'e' * 32}-nix", "hash part is not Nix base-32"),
    (f"{S}/{H.upper()}-nix", "hash part is not Nix base-32"),
    (f"{S}/{H}-a b", "characters Nix does not allow"),
    (f"{S}/{H}-a:b", "characters Nix does not allow"),
    (f"{S}/{H}-.hidden", "starts with a period"),
    (f"{S}/{H}-" + "x" * 212, "longer than 211 characters"),
    (f"{S}/{H}-x\n{S}/{H}-y", "control character"),
    ("", "empty"),
])
def test_store_paths_that_are_refused(path, reason):
    with pytest.raises(UnpackError) as info:
        check_store_path(path, where=".reginfo")
    msg = str(info.value)
    assert reason in msg and " in .reginfo" in msg and info.value.hint
    assert repr(path[:300])[1:-1] in msg  # the message names it


def test_reginfo_paths_derivers_and_references_are_all_checked():
    good = record(NIX, refs=(NIX,), deriver=f"{S}/{H2}-nix-2.8.0.drv")
    assert parse_reginfo(good) == [NIX]
    with pytest.raises(UnpackError, match=r"unsafe store path '/nix/store/\.\./\.\./etc/passwd' in \.reginfo "
                                          r"\(line 7, a reference of /nix/store/\w+-nix-2\.8\.0\): it climbs out"):
        parse_reginfo(record(NIX, refs=(NIX, f"{S}/../../etc/passwd")))
    with pytest.raises(UnpackError, match=r"'/tmp/x\.drv' in \.reginfo \(line 4, the deriver"):
        parse_reginfo(record(NIX, deriver="/tmp/x.drv"))
    with pytest.raises(UnpackError, match=r"'/nix/store/\.\./\.\./etc/X' in \.reginfo \(line 7\)"):
        parse_reginfo(good + record(f"{S}/../../etc/X"))
    with pytest.raises(UnpackError, match="malformed after .*5 references announced"):
        parse_reginfo(f"{NIX}\n{'0' * 64}\n1\n\n5\n{NIX}\n")


def test_release_info_checks_the_install_script_and_refuses_symlinked_files(tmp_path):
    top = write_release(tmp_path / "a", nix_line=f"{S}/../../usr/{H}-nix-2.8.0")
    with pytest.raises(UnpackError, match=r"unsafe store path '/nix/store/\.\./\.\./usr/\w+-nix-2\.8\.0' in the "
                                          r"install script's nix=\"\.\.\.\" line: it climbs out"):
        release_info(top)
    top = write_release(tmp_path / "b")
    (top / "install").write_text(install_script(NIX) + f'cacert="/etc/ssl/{H2}-cacert"\n')
    with pytest.raises(UnpackError, match=r"'/etc/ssl/\w+-cacert' in the install script's cacert="):
        release_info(top)
    top = write_release(tmp_path / "c")
    (top / ".reginfo").unlink()
    os.symlink(f"{NIX}/share/payload", top / ".reginfo")
    with pytest.raises(UnpackError, match=r"\.reginfo is a symlink"):
        release_info(top)
    with pytest.raises(UnpackError, match=r"'/tmp/\w+-nix' in the release \(its Nix\)"):
        ReleaseInfo(top=top, nix=f"/tmp/{H}-nix")
    assert ReleaseInfo(top=top, nix=NIX).tool("nix-store") == f"{NIX}/bin/nix-store"


def _tar(path: Path, entries: list[tuple[str, bytes, str]]) -> Path:
    """(name, type, link target) entries; files get a byte of content."""
    with tarfile.open(path, "w:xz") as tf:
        for name, kind, link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            body = b"x" if kind == tarfile.REGTYPE else b""
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    return path


D, F, L = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE


@pytest.mark.parametrize("entries,pattern", [
    ([("t/store", D, ""), ("t/store/evil", D, "")],
     r"unsafe store path '/nix/store/evil' in the archive entry 't/store/evil': its name is not"),
    ([("t/store", D, ""), (f"t/store/{H}-a b/f", F, "")],
     r"in the archive entry 't/store/\w+-a b/f': its name has characters"),
    ([("t/store", D, ""), (f"t/store/{H}-x", L, "..")],
     r"unsafe archive entry 't/store/\w+-x': the store path is a symlink \(to '\.\.'\)"),
    ([("t/store", D, ""), (f"t/store/{H}-x", L, f"{S}/{H2}-y")], r"the store path is a symlink"),
    ([("t/store", L, f"{S}/{H}-x")], r"unsafe archive entry 't/store': the release's store/ is not a directory"),
    ([("t/store", F, "")], r"store/ is not a directory"),
    ([(f"t/store/{H}-x/l", L, "../..")], r"unsafe symlink .*: it points out of the release's store/"),
])
def test_unpack_refuses_store_entries_that_climb_out(tmp_path, entries, pattern):
    dest = tmp_path / "out"
    with pytest.raises(UnpackError, match=pattern):
        safe_extract(_tar(tmp_path / "t.tar.xz", entries), dest)
    assert list(dest.iterdir()) == []


def test_links_between_store_paths_stay_allowed(tmp_path):
    entries = [("t/store", D, ""), (f"t/store/{H}-x/f", F, ""), (f"t/store/{H}-x/l", L, "f"),
               (f"t/store/{H2}-y/l", L, f"../{H}-x/f"), (f"t/store/{H2}-y/abs", L, f"{NIX}/bin/nix")]
    safe_extract(_tar(tmp_path / "t.tar.xz", entries), tmp_path / "out")
    assert os.readlink(tmp_path / "out" / f"t/store/{H2}-y/l") == f"../{H}-x/f"


def test_store_paths_refuses_a_hostile_staging_area_before_moving_anything(tmp_path):
    """Defence in depth: even a staging area written by hand (not by UnpackRelease) with a
    symlinked store entry moves nothing."""
    store = tmp_path / "nix" / "store"
    store.mkdir(parents=True)
    staging = tmp_path / "nix" / "var" / "release"
    top = write_release(staging, store_dir=str(store),
                        reginfo=record(f"{store}/{H}-nix-2.8.0") + record(f"{store}/{H2}-evil"))
    (top / "store" / f"{H2}-evil").symlink_to("..")
    (staging / UNPACKED_MARKER).write_text(f"{'0' * 64}\n{TOP}\n")
    before = snapshot(tmp_path)
    a = StorePaths(staging=str(staging), store_dir=str(store))
    ctx = Context()
    record_ = a.snapshot(ctx)
    with pytest.raises(UnpackError, match=r"store/.*-evil.*symlink"):
        a.execute(ctx, record_)
    assert snapshot(tmp_path) == before


# -- hostile releases, installed for real (in a private mount namespace) -------------------------------


def _add_record(top: Path, path: str, store_name: Optional[str] = None, refs: tuple[str, ...] = ()) -> None:
    with open(top / ".reginfo", "a") as fh:
        fh.write(record(path, refs))
    if store_name:
        d = top / "store" / store_name
        d.mkdir(parents=True)
        (d / "owned").write_text("written by a hostile release\n")


def _climb(top: Path, p: str) -> None:
    _add_record(top, f"{S}/../../etc/{H2}-evil", f"{H2}-evil")


def _absolute(top: Path, p: str) -> None:
    _add_record(top, f"/etc/{H2}-evil", f"{H2}-evil")


def _nested(top: Path, p: str) -> None:
    _add_record(top, f"{S}/{H2}-evil/sub", f"{H2}-evil")
    (top / "store" / f"{H2}-evil" / "sub").mkdir()


def _bad_name(top: Path, p: str) -> None:
    _add_record(top, f"{S}/{H2}-evil name")


def _bad_reference(top: Path, p: str) -> None:
    (top / ".reginfo").write_text(record(p, refs=(p, f"{S}/../../etc/shadow")))


def _bad_store_entry(top: Path, p: str) -> None:
    (top / "store" / "evil").mkdir()
    (top / "store" / "evil" / "owned").write_text("x\n")


def _symlinked_store_entry(top: Path, p: str) -> None:
    _add_record(top, f"{S}/{H2}-evil")
    os.symlink("..", top / "store" / f"{H2}-evil")


def _script_outside(top: Path, p: str) -> None:
    text = (top / "install").read_text()
    (top / "install").write_text(text.replace(f'nix="{p}"', f'nix="/tmp/{os.path.basename(p)}"'))


def _script_climbs(top: Path, p: str) -> None:
    text = (top / "install").read_text()
    (top / "install").write_text(text.replace(f'nix="{p}"', f'nix="{S}/../../usr"'))


HOSTILE: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "reginfo-climbs-out": (_climb, rf"unsafe store path '/nix/store/\.\./\.\./etc/{H2}-evil' in \.reginfo "
                                   r"\(line 6\): it climbs out of /nix/store with '\.\.'"),
    "reginfo-absolute-elsewhere": (_absolute, rf"unsafe store path '/etc/{H2}-evil' in \.reginfo \(line 6\): "
                                              r"it is not in /nix/store"),
    "reginfo-nested": (_nested, rf"unsafe store path '/nix/store/{H2}-evil/sub' in \.reginfo \(line 6\): it is "
                                r"not a direct child of /nix/store \(a nested path\)"),
    "reginfo-bad-name": (_bad_name, rf"unsafe store path '/nix/store/{H2}-evil name' in \.reginfo \(line 6\): "
                                    r"its name has characters Nix does not allow"),
    "reginfo-reference": (_bad_reference, r"unsafe store path '/nix/store/\.\./\.\./etc/shadow' in \.reginfo "
                                          r"\(line 7, a reference of /nix/store/\w+-nix-[\d.]+\): it climbs out"),
    "store-entry-bad-name": (_bad_store_entry, rf"unsafe store path '/nix/store/evil' in the archive entry "
                                               rf"'nix-[^']+/store/evil': its name is not"),
    "store-entry-symlink": (_symlinked_store_entry, rf"unsafe archive entry 'nix-[^']+/store/{H2}-evil': the "
                                                    r"store path is a symlink \(to '\.\.'\)"),
    "script-nix-outside": (_script_outside, r"unsafe store path '/tmp/\w+-nix-[\d.]+' in the install script's "
                                            r"nix=\"\.\.\.\" line: it is not in /nix/store"),
    "script-nix-climbs": (_script_climbs, r"unsafe store path '/nix/store/\.\./\.\./usr' in the install "
                                          r"script's nix=\"\.\.\.\" line: it climbs out"),
}


@pytest.fixture(scope="module")
def real_release(tmp_path_factory):
    """The test release (the machine's own Nix), unpacked once to build variants from."""
    tb = get_tarball()
    d = tmp_path_factory.mktemp("real")
    subprocess.run(["tar", "-C", str(d), "-xf", str(tb.path)], check=True)
    subprocess.run(["chmod", "-R", "u+w", str(d)], check=True)
    return tb, d / tb.path.name[: -len(".tar.xz")]


def _variant(real_release, dest: Path, change: Callable[[Path, str], None]) -> Path:
    tb, top = real_release
    work = dest.parent / (dest.name + ".d")
    work.mkdir()
    subprocess.run(["cp", "-a", str(top), str(work / top.name)], check=True)
    change(work / top.name, tb.nix_store_path)
    return pack(work / top.name, dest)


@pytest.mark.slow
@can_sandbox
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_release_stops_the_install_before_any_change(sandbox: Sandbox, real_release, tmp_path, case):
    change, pattern = HOSTILE[case]
    bad = _variant(real_release, tmp_path / real_release[0].path.name, change)
    before = sandbox.snapshots()
    r = sandbox.onboard("install", "--mode", "single", "--tarball", str(bad), "--sha256", sha256_file(bad), "--yes")
    assert r.returncode == 1, (r.stdout[-1000:], r.stderr[-2000:])
    assert re.search(pattern, r.stderr), r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr and "Error:" not in r.stderr
    # /nix, the /etc copy and HOME are as they were (onboard's own log of the failure aside)
    assert_unchanged(before, sandbox.snapshots(), allow_home=ONBOARD_LOGS)
    assert not list(sandbox.etc.rglob("*evil*")) and not list(sandbox.base.rglob("owned"))


def _pwn(top: Path, p: str) -> None:
    (top / "store" / os.path.basename(p) / "share").mkdir(exist_ok=True)
    (top / "store" / os.path.basename(p) / "share" / "pwned").write_text("a hostile release was installed\n")


@pytest.mark.slow
@can_sandbox
def test_an_install_raced_by_a_tarball_renamed_over_every_millisecond(tmp_path, real_release):
    """`onboard install --tarball PATH` while a thread renames a hostile release over PATH (and the
    genuine one back) every ~1 ms: each run installs the genuine release or fails with a
    checksum error naming the hostile hash, nothing changed; never the hostile content."""
    tb, top = real_release
    genuine = tmp_path / "genuine.tar.xz"
    os.link(tb.path, genuine)
    hostile = _variant(real_release, tmp_path / "hostile.tar.xz", _pwn)
    want = tree(top / "store" / os.path.basename(tb.nix_store_path))
    path = tmp_path / tb.path.name
    outcomes = []
    for i in range(4):
        os.link(genuine, path)
        sb = Sandbox(tmp_path / f"sb{i}")
        try:
            before = sb.snapshots()
            with Swapper(path, [hostile, genuine]):
                r = sb.onboard("install", "--mode", "single", "--tarball", str(path), "--sha256", tb.sha256,
                               "--yes", timeout=300)
            installed = sb.nix / "store" / os.path.basename(tb.nix_store_path)
            if r.returncode == 0:
                assert tree(installed) == want
                outcomes.append("genuine")
            else:
                assert f"does not match its SHA-256: expected {tb.sha256}, got {sha256_file(hostile)}" in r.stderr, \
                    r.stderr[-2000:]
                assert_unchanged(before, sb.snapshots(), allow_home=ONBOARD_LOGS)
                outcomes.append("checksum")
            assert not list(sb.nix.rglob("pwned"))
        finally:
            sb.cleanup()
            os.unlink(path)
    assert len(outcomes) == 4
