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
import struct
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

BLOCK = 512
MTIME = 1  # what Nix gives every store file
CHUNK = 1 << 20


class TarError(Exception):
    pass


@dataclass(frozen=True)
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


_HEADER = struct.Struct("100s8s8s8s12s12s8s1s100s8s32s32s8s8s155s12x")
_ZERO8 = b"0000000\0"


def _block(name: bytes, mode: int, uid: int, gid: int, size: int, flag: bytes, link: bytes) -> bytes:
    h = bytearray(_HEADER.pack(name, b"%07o\0" % mode, b"%07o\0" % uid, b"%07o\0" % gid, b"%011o\0" % size,
                               _MTIME, b"        ", flag, link, b"ustar\x0000", b"", b"", _ZERO8, _ZERO8, b""))
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def header(e: Entry) -> bytes:
    """The header blocks of `e` (a pax header first when a field does not fit)."""
    flag = {"dir": b"5", "file": b"0", "link": b"2"}[e.kind]
    size = e.size if e.kind == "file" else 0
    records: list[tuple[bytes, bytes]] = []
    name, link = e.name, e.target
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

    def visit(abs_path: str, name: bytes) -> None:
        st = os.lstat(abs_path)
        mode = _store_mode(st)
        if stat.S_ISDIR(st.st_mode):
            out.append(Entry(name + b"/", "dir", mode))
            for child in sorted(os.listdir(os.fsencode(abs_path))):
                visit(abs_path + "/" + os.fsdecode(child), name + b"/" + child)
        elif stat.S_ISLNK(st.st_mode):
            out.append(Entry(name, "link", mode, target=os.fsencode(os.readlink(abs_path))))
        elif stat.S_ISREG(st.st_mode):
            out.append(Entry(name, "file", mode, size=st.st_size, source=abs_path))
        else:
            raise TarError(f"{abs_path} is neither a file, a directory nor a symbolic link")

    visit(path, os.fsencode(rel))
    return out


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
