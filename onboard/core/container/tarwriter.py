"""A tar writer whose bytes depend only on what is archived: entries in byte order of their
names, parents first; every mtime 1, owner 0:0 unless given, no user or group names, no device
numbers, no access times, no hard links (a file the store's optimiser hard-linked is written
whole each time); store modes normalised (0444, 0555 for executables, 0555 directories, 0777
links). Names or link targets over 100 bytes, and sizes over 8 GiB, get a POSIX pax record.

`layer_entries` lists a store path as entries; `write_entries` streams them into a sink (any
object with `write(bytes)`), so a layer is hashed while it is written and never held whole.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

BLOCK = 512
MTIME = 1  # what Nix gives every store file
CHUNK = 1 << 20


class TarError(Exception):
    pass


@dataclass(slots=True)
class Entry:
    name: bytes  # relative, "/"-separated; directories end with "/"
    kind: str  # "dir" | "file" | "link"
    mode: int
    size: int = 0
    source: str = ""  # a file to read the contents from
    data: Optional[bytes] = None  # or the contents themselves
    target: bytes = b""  # a link's target
    uid: int = 0
    gid: int = 0


def data_entry(name: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(name.encode(), "file", mode, size=len(data), data=data, uid=uid, gid=gid)


def dir_entry(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(name.rstrip("/").encode() + b"/", "dir", mode, uid=uid, gid=gid)


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


_MTIME = _octal(MTIME, 12)


def _pax(records: list[tuple[bytes, bytes]]) -> bytes:
    out = b""
    for key, value in records:
        body = b" " + key + b"=" + value + b"\n"
        n = len(body) + 1
        while len(str(n).encode()) + len(body) != n:
            n += 1
        out += str(n).encode() + body
    return out


_ZERO8 = b"0000000\0"
#: magic and version, user and group names (empty), device numbers (zero), prefix (empty), padding
_TAIL = b"ustar\x0000" + b"\0" * 64 + _ZERO8 + _ZERO8 + b"\0" * 167
#: the checksum of the fields every header shares (the checksum field counts as eight spaces)
_BASE_SUM = sum(_MTIME) + 8 * 0x20 + sum(_TAIL)


def _block(name: bytes, mode: int, uid: int, gid: int, size: int, flag: bytes, link: bytes) -> bytes:
    """One ustar header block (`name` and `link` at most 100 bytes). Built from its parts, the
    checksum summed over the few bytes that vary: this runs once per file of the closure."""
    nums = b"%07o\0%07o\0%07o\0%011o\0" % (mode, uid, gid, size)
    check = _BASE_SUM + sum(name) + sum(nums) + flag[0] + sum(link)
    return b"".join((name.ljust(100, b"\0"), nums, _MTIME, b"%06o\0 " % check, flag, link.ljust(100, b"\0"),
                     _TAIL))


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


_FLAGS = {"dir": b"5", "file": b"0", "link": b"2"}


def header(e: Entry) -> bytes:
    """The header blocks of `e` (a pax header first when a field does not fit)."""
    flag = _FLAGS[e.kind]
    size = e.size if e.kind == "file" else 0
    name, link = e.name, e.target
    if len(name) <= 100 and len(link) <= 100 and size < 8 ** 11:
        return _block(name, e.mode, e.uid, e.gid, size, flag, link)
    records: list[tuple[bytes, bytes]] = []
    if len(name) > 100:
        records.append((b"path", name))
        name = name[:100]
    if len(link) > 100:
        records.append((b"linkpath", link))
        link = link[:100]
    if size >= 8 ** 11:
        records.append((b"size", str(size).encode()))
        size = 0
    out = b""
    if records:
        body = _pax(records)
        out = _block(b"././@PaxHeader", 0o644, 0, 0, len(body), b"x", b"") + body + _padding(len(body))
    return out + _block(name, e.mode, e.uid, e.gid, size, flag, link)


def end() -> bytes:
    return b"\0" * (2 * BLOCK)


def _store_mode(st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        return 0o555
    if stat.S_ISLNK(st.st_mode):
        return 0o777
    return 0o555 if st.st_mode & 0o111 else 0o444


def parents(rel: str, mode: int = 0o755) -> list[Entry]:
    """Directory entries for every parent of `rel` ("nix/store/x" -> "nix/", "nix/store/")."""
    parts = rel.strip("/").split("/")[:-1]
    return [Entry(("/".join(parts[:i + 1]) + "/").encode(), "dir", mode) for i in range(len(parts))]


def layer_entries(path: str) -> list[Entry]:
    """A store path (or any tree) as entries named by its absolute path without the leading
    "/", its parents first (mode 0755), children in byte order. Raises TarError for what a
    store never holds (devices, sockets, fifos)."""
    rel = path.strip("/")
    out = parents(rel)
    st = os.lstat(path)
    name = os.fsencode(rel)
    if stat.S_ISDIR(st.st_mode):
        out.append(Entry(name + b"/", "dir", 0o555))
        _walk(path, name, out)
    elif stat.S_ISLNK(st.st_mode):
        out.append(Entry(name, "link", 0o777, target=os.fsencode(os.readlink(path))))
    elif stat.S_ISREG(st.st_mode):
        out.append(Entry(name, "file", _store_mode(st), size=st.st_size, source=path))
    else:
        raise TarError(f"{path} is neither a file, a directory nor a symbolic link")
    return out


def _walk(directory: str, name: bytes, out: list[Entry]) -> None:
    """The tree under `directory` in byte order of names, depth first: one scandir per
    directory, whose entry types spare a stat for every directory and link."""
    fsencode = os.fsencode
    with os.scandir(directory) as it:
        children = sorted((fsencode(d.name), d) for d in it)
    for child, d in children:
        full = name + b"/" + child
        if d.is_dir(follow_symlinks=False):
            out.append(Entry(full + b"/", "dir", 0o555))
            _walk(d.path, full, out)
        elif d.is_symlink():
            out.append(Entry(full, "link", 0o777, target=fsencode(os.readlink(d.path))))
        else:
            st = d.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise TarError(f"{d.path} is neither a file, a directory nor a symbolic link")
            out.append(Entry(full, "file", 0o555 if st.st_mode & 0o111 else 0o444, size=st.st_size, source=d.path))


def write_entries(entries: Iterable[Entry], write: Callable[[bytes], object],
                  copy: Optional[Callable[[Entry], int]] = None) -> int:
    """Stream the entries and the end-of-archive blocks to `write` (a file's contents through
    `copy(entry)` when given: it writes exactly entry.size bytes or raises TarError); the
    bytes written."""
    total = 0
    for e in entries:
        h = header(e)
        write(h)
        total += len(h)
        if e.kind != "file":
            continue
        if e.data is not None:
            write(e.data)
            got = len(e.data)
        elif copy is not None:
            got = copy(e)
        else:
            got = _copy(e, write)
        pad = _padding(got)
        write(pad)
        total += got + len(pad)
    write(end())
    return total + 2 * BLOCK


def _copy(e: Entry, write: Callable[[bytes], object]) -> int:
    got = 0
    buf = bytearray(min(CHUNK, max(e.size, 1)))
    view = memoryview(buf)
    try:
        with open(e.source, "rb", buffering=0) as fh:
            while got < e.size:
                n = fh.readinto(view[:min(len(buf), e.size - got)])
                if not n:
                    break
                write(view[:n])  # type: ignore[arg-type]
                got += n
            more = fh.read(1)
    except OSError as exc:
        raise TarError(f"cannot read {e.source}: {exc.strerror or exc}") from None
    if got != e.size or more:
        raise TarError(f"{e.source} changed while it was being read")
    return got
