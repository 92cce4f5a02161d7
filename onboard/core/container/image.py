"""The OCI image archive: its layers, its config, its manifest and index, written in one pass.

Layout of the archive (a tar, written by tarwriter.py, so its bytes depend only on the image):
`blobs/sha256/<digest>` for each layer, the config and the manifest, then `index.json`,
`manifest.json` (the form `docker load` reads) and `oci-layout`. A blob's header is written
with a placeholder name, the blob is streamed while it is hashed, and the header is written
again once its digest is known: nothing is held whole in memory or written twice.

Layers: one per store path, the paths most depended on at the bottom (the order in which
images of related profiles share the most layers); past MAX_LAYERS - 1 the least depended-on
paths share one layer; the last layer is onboard's own (the user, the working directory, /tmp,
the image's record). Layers are uncompressed unless asked (gzip with a fixed header: no name,
mtime 0, compression level 6; its bytes then also depend on the zlib version).
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Callable, Optional

from onboard.core.container import tarwriter as tw

if TYPE_CHECKING:
    import mmap
    from concurrent.futures import ThreadPoolExecutor

MAX_LAYERS = 100  # what docker and podman take without trouble (overlayfs limits them to about 125)
FORMAT = "1"  # of onboard's image writer: a change that alters bytes changes it
CREATED = "1970-01-01T00:00:01Z"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "powerpc64le": "ppc64le",
        "riscv64": "riscv64", "s390x": "s390x"}


@dataclass
class User:
    name: str = "dev"
    uid: int = 1000
    gid: int = 1000
    home: str = "/home/dev"
    workdir: str = "/work"


@dataclass
class Spec:
    """Everything the image is made of."""

    profile: str
    arch: str  # OCI architecture (amd64, arm64, ...)
    closure: dict[str, str]  # store path -> NAR hash
    references: dict[str, list[str]]  # store path -> the store paths it refers to
    roots: list[str]
    env: list[str]  # "NAME=value", sorted
    cmd: list[str]
    tag: str
    shell: str = ""  # the user's login shell in /etc/passwd ("" : none)
    user: User = field(default_factory=User)
    gzip: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Layer:
    paths: list[str]
    digest: str = ""
    diff_id: str = ""
    size: int = 0


@dataclass
class Written:
    digest: str  # of the manifest: the image's digest
    config_digest: str  # the image ID docker and podman show
    size: int  # of the archive
    layers: list[Layer]


def group_layers(closure: list[str], references: dict[str, list[str]], max_layers: int = MAX_LAYERS) -> list[list[str]]:
    """Store paths in layer order: by how many paths of the closure depend on each (most
    first), then by path; past `max_layers - 1` (one layer is onboard's own) the rest share
    the last store layer."""
    paths = sorted(set(closure))
    inside = set(paths)
    referrers: dict[str, set[str]] = {p: set() for p in paths}
    for p in paths:
        for r in references.get(p, []):
            if r in inside and r != p:
                referrers[r].add(p)
    depended: dict[str, int] = {}
    for p in paths:
        seen: set[str] = set()
        todo = list(referrers[p])
        while todo:
            q = todo.pop()
            if q not in seen:
                seen.add(q)
                todo.extend(referrers[q])
        depended[p] = len(seen)
    ordered = sorted(paths, key=lambda p: (-depended[p], p))
    room = max(1, max_layers - 1)
    if len(ordered) <= room:
        return [[p] for p in ordered]
    return [[p] for p in ordered[:room - 1]] + [sorted(ordered[room - 1:])]


def own_entries(spec: Spec) -> list[tw.Entry]:
    """onboard's layer: /etc/passwd and /etc/group with the user, the home and working
    directories it owns, /tmp, and /etc/onboard/image.json (what the image was made from)."""
    u = spec.user
    shell = spec.shell or "/sbin/nologin"
    passwd = (f"root:x:0:0:root:/root:/sbin/nologin\n"
              f"{u.name}:x:{u.uid}:{u.gid}:onboard profile {spec.profile}:{u.home}:{shell}\n"
              "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")
    group = f"root:x:0:\n{u.name}:x:{u.gid}:\nnobody:x:65534:\n"
    record = {"format": "onboard-image", "version": 1, "profile": spec.profile, "roots": spec.roots,
              "closure": dict(sorted(spec.closure.items())), "cmd": spec.cmd}
    entries = [
        tw.dir_entry("etc"),
        tw.data_entry("etc/passwd", passwd.encode()),
        tw.data_entry("etc/group", group.encode()),
        tw.data_entry("etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files dns\n"),
        tw.dir_entry("etc/onboard"),
        tw.data_entry("etc/onboard/image.json", (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()),
        tw.dir_entry("root", 0o700),
        tw.dir_entry("tmp", 0o1777),
    ]
    for d in (u.home, u.workdir):
        parts = d.strip("/").split("/")
        for i in range(len(parts) - 1):
            entries.append(tw.dir_entry("/".join(parts[:i + 1])))
        entries.append(tw.dir_entry(d.strip("/"), 0o755, u.uid, u.gid))
    unique = {e.name: e for e in entries}
    return [unique[n] for n in sorted(unique, key=_tree_order)]


def store_entries(paths: list[str]) -> list[tw.Entry]:
    """The entries of one layer of store paths: shared parents once, then each path's tree."""
    if len(paths) == 1:
        return tw.layer_entries(paths[0])
    out: dict[bytes, tw.Entry] = {}
    for p in sorted(paths):
        for e in tw.layer_entries(p):
            out.setdefault(e.name, e)
    return [out[n] for n in sorted(out, key=_tree_order)]


def _tree_order(name: bytes) -> tuple[bytes, ...]:
    return tuple(name.rstrip(b"/").split(b"/"))


def _json(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Archive:
    """The outer tar, written to a seekable file through its descriptor: small writes are
    gathered, a big file's contents are copied by the kernel (copy_file_range) and hashed
    from a read-only mapping, so no byte of the closure passes through Python objects."""

    FLUSH = 1 << 20
    SMALL = 1 << 16

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = bytearray()
        self.pos = os.lseek(fd, 0, os.SEEK_CUR)
        self.pool: Optional["ThreadPoolExecutor"] = None
        self.hashing: Optional["hashlib._Hash"] = None  # what the written bytes are hashed into
        self.kernel_copy = hasattr(os, "copy_file_range")
        self.send_file = hasattr(os, "sendfile")

    def _hasher(self) -> "ThreadPoolExecutor":
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onboard-hash")
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

    def _put(self, data: bytes) -> None:
        self.pending += data
        if len(self.pending) >= self.FLUSH:
            self.flush()

    def flush(self) -> None:
        if self.hashing is not None:
            self.hashing.update(self.pending)
        view = memoryview(self.pending)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.pos += len(self.pending)
        self.pending = bytearray()

    def tell(self) -> int:
        return self.pos + len(self.pending)

    def add(self, name: str, data: bytes) -> None:
        for chunk in (tw.header(tw.data_entry(name, data)), data, b"\0" * (-len(data) % tw.BLOCK)):
            self._put(chunk)

    def add_dir(self, name: str) -> None:
        self._put(tw.header(tw.dir_entry(name)))

    def blob(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.add(_blob_name(digest), data)
        return digest, len(data)

    def _copy_file(self, e: tw.Entry, raw: "hashlib._Hash") -> int:
        """A store file's contents, hashed into `raw` and copied to the archive."""
        import mmap

        try:
            src = os.open(e.source, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise tw.TarError(f"cannot read {e.source}: {exc.strerror or exc}") from None
        try:
            size = os.fstat(src).st_size
            if size != e.size:
                raise tw.TarError(f"{e.source} changed while it was being read")
            if size <= self.SMALL:
                data = os.read(src, size + 1)
                if len(data) != size:
                    raise tw.TarError(f"{e.source} changed while it was being read")
                self._put(data)  # hashed with the rest of the gathered bytes
                return size
            with mmap.mmap(src, size, prot=mmap.PROT_READ) as mm:
                self.flush()
                # the hash (which lets go of the GIL) runs beside the kernel's copy
                hashing = self._hasher().submit(raw.update, mm)
                try:
                    self._copy_range(src, mm, size)
                finally:
                    hashing.result()
            self.pos += size
            os.lseek(self.fd, self.pos, os.SEEK_SET)
            return size
        finally:
            os.close(src)

    def _copy_unhashed(self, e: tw.Entry) -> int:
        try:
            src = os.open(e.source, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise tw.TarError(f"cannot read {e.source}: {exc.strerror or exc}") from None
        try:
            if e.size <= self.SMALL:
                data = os.read(src, e.size + 1)
                if len(data) != e.size:
                    raise tw.TarError(f"{e.source} changed while it was being read")
                self._put(data)
                return e.size
            if os.fstat(src).st_size != e.size:
                raise tw.TarError(f"{e.source} changed while it was being read")
            self.flush()
            if self._kernel_copy(src, e.size) < e.size:
                import mmap

                with mmap.mmap(src, e.size, prot=mmap.PROT_READ) as mm:
                    self._copy_range(src, mm, e.size)
            self.pos += e.size
            os.lseek(self.fd, self.pos, os.SEEK_SET)
            return e.size
        finally:
            os.close(src)

    def _kernel_copy(self, src: int, size: int, done: int = 0) -> int:
        """Copy `src` from `done` on to the archive at self.pos + done inside the kernel:
        copy_file_range (a reflink or an in-kernel copy on the same file system), else sendfile
        (any two files; no page of it is mapped into this process). The bytes copied in all."""
        try:
            while self.kernel_copy and done < size:
                n = os.copy_file_range(src, self.fd, size - done, done, self.pos + done)
                if n <= 0:
                    break
                done += n
        except OSError:
            self.kernel_copy = False  # another file system, an old kernel
        if done < size and self.send_file:
            os.lseek(self.fd, self.pos + done, os.SEEK_SET)
            try:
                while done < size:
                    n = os.sendfile(self.fd, src, done, size - done)
                    if n <= 0:
                        break
                    done += n
            except OSError:
                self.send_file = False
        return done

    def _copy_range(self, src: int, mm: "mmap.mmap", size: int) -> None:
        done = self._kernel_copy(src, size)
        if done < size:  # written from the mapping
            os.lseek(self.fd, self.pos + done, os.SEEK_SET)
            with memoryview(mm) as whole:
                view = whole[done:]
                while view:
                    n = os.write(self.fd, view)
                    view = view[n:]
                view.release()

    def stream_blob(self, entries: list[tw.Entry], gzip: bool, known: Optional[tuple[str, int]] = None
                    ) -> tuple[str, str, int]:
        """(digest, diff_id, size) of the layer of `entries`, written as the next blob. With
        `known` (digest, size) of an uncompressed layer, its bytes are written without being
        hashed again; when the size written is not the one known, it is written again, hashed."""
        start = self.tell()
        if known is not None and not gzip:
            self._put(tw.header(tw.Entry(_blob_name(known[0]).encode(), "file", 0o644, size=known[1])))
            body = self.tell()
            tw.write_entries(entries, self._put, self._copy_unhashed)
            size = self.tell() - body
            if size == known[1]:
                self._put(b"\0" * (-size % tw.BLOCK))
                return known[0], known[0], size
            self.flush()
            os.ftruncate(self.fd, start)
            os.lseek(self.fd, start, os.SEEK_SET)
            self.pos = start
        placeholder = _blob_name("sha256:" + "0" * 64)
        self._put(tw.header(tw.data_entry(placeholder, b"")))
        body = self.tell()
        raw = hashlib.sha256()
        if gzip:
            packed = hashlib.sha256()
            z = zlib.compressobj(6, zlib.DEFLATED, 31, 9)

            def write(chunk: bytes) -> None:
                raw.update(chunk)
                out = z.compress(chunk)
                if out:
                    packed.update(out)
                    self._put(out)

            tw.write_entries(entries, write)
            tail = z.flush()
            packed.update(tail)
            self._put(tail)
        else:
            packed = raw
            self.flush()
            self.hashing = raw
            try:
                tw.write_entries(entries, self._put, lambda e: self._copy_file(e, raw))
                self.flush()
            finally:
                self.hashing = None
        size = self.tell() - body
        self._put(b"\0" * (-size % tw.BLOCK))
        self.flush()
        digest = "sha256:" + packed.hexdigest()
        os.pwrite(self.fd, tw.header(tw.Entry(_blob_name(digest).encode(), "file", 0o644, size=size)), start)
        return digest, "sha256:" + raw.hexdigest(), size


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def config_doc(spec: Spec, diff_ids: list[str], layers: list[Layer]) -> dict:
    u = spec.user
    config: dict = {"Env": spec.env, "User": f"{u.uid}:{u.gid}", "WorkingDir": u.workdir,
                    "Labels": dict(sorted(spec.labels.items()))}
    if spec.cmd:
        config["Cmd"] = spec.cmd
    history = [{"created": CREATED, "created_by": "onboard export container: " + (
        " ".join(os.path.basename(p) for p in layer.paths) if len(layer.paths) <= 3
        else f"{len(layer.paths)} store paths")} for layer in layers[:-1]]
    history.append({"created": CREATED, "created_by": "onboard export container: user, directories, record"})
    return {"architecture": spec.arch, "os": "linux", "created": CREATED, "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}


class DigestCache:
    """The digest and size of each uncompressed store layer written before, keyed by the
    writer's format and the NAR hash Nix recorded for each of its store paths (a store path's
    contents never change; a different build of the same path has another NAR hash). A
    layer read from here is still checked by its size, and podman and docker check every
    digest when they load the image; `onboard verify` checks the store's contents."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _file(self, paths: list[str], hashes: dict[str, str]) -> str:
        key = hashlib.sha256("\n".join([FORMAT] + [f"{p} {hashes.get(p, '')}" for p in sorted(paths)]).encode())
        return os.path.join(self.directory, key.hexdigest())

    def get(self, paths: list[str], hashes: dict[str, str]) -> Optional[tuple[str, int]]:
        if not paths or not all(hashes.get(p) for p in paths):
            return None
        try:
            with open(self._file(paths, hashes), encoding="ascii") as fh:
                digest, size = fh.read().split()
            if len(digest) == 71 and digest.startswith("sha256:"):
                return digest, int(size)
        except (OSError, ValueError):
            pass
        return None

    def put(self, paths: list[str], hashes: dict[str, str], digest: str, size: int) -> None:
        if not paths or not all(hashes.get(p) for p in paths):
            return
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            path = self._file(paths, hashes)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(f"{digest} {size}\n")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written is only slower


def write_image(spec: Spec, fh: IO[bytes], progress: Optional[Callable[[int, int, int], None]] = None,
                cache: Optional[DigestCache] = None) -> Written:
    """Write the image archive of `spec` to `fh` (a new, seekable file). `progress(done, total,
    bytes)` is called after each layer. Raises tarwriter.TarError."""
    arc = _Archive(fh.fileno())
    try:
        return _write(spec, arc, progress, cache)
    finally:
        arc.close()


def _write(spec: Spec, arc: _Archive, progress: Optional[Callable[[int, int, int], None]],
           cache: Optional[DigestCache]) -> Written:
    groups = group_layers(list(spec.closure), spec.references)
    layers = [Layer(g) for g in groups] + [Layer([])]
    arc.add_dir("blobs")
    arc.add_dir("blobs/sha256")
    written = 0
    for i, layer in enumerate(layers):
        entries = store_entries(layer.paths) if layer.paths else own_entries(spec)
        known = cache.get(layer.paths, spec.closure) if cache is not None and not spec.gzip else None
        layer.digest, layer.diff_id, layer.size = arc.stream_blob(entries, spec.gzip, known)
        if cache is not None and not spec.gzip and known != (layer.digest, layer.size):
            cache.put(layer.paths, spec.closure, layer.digest, layer.size)
        written += layer.size
        if progress is not None:
            progress(i + 1, len(layers), written)
    config = _json(config_doc(spec, [x.diff_id for x in layers], layers))
    config_digest, config_size = arc.blob(config)
    media = LAYER_GZIP if spec.gzip else LAYER_TAR
    manifest = _json({"schemaVersion": 2, "mediaType": MANIFEST,
                      "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_size},
                      "layers": [{"mediaType": media, "digest": x.digest, "size": x.size} for x in layers],
                      "annotations": {"org.opencontainers.image.title": spec.profile}})
    digest, size = arc.blob(manifest)
    name, _, tag = _split_tag(spec.tag)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": MANIFEST, "digest": digest, "size": size,
                            "annotations": {"org.opencontainers.image.ref.name": spec.tag,
                                            "io.containerd.image.name": spec.tag}}]}
    arc.add("index.json", _json(index))
    docker = [{"Config": _blob_name(config_digest), "RepoTags": [f"{name}:{tag}"],
               "Layers": [_blob_name(x.digest) for x in layers]}]
    arc.add("manifest.json", _json(docker))
    arc.add("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
    arc._put(tw.end())
    arc.flush()
    return Written(digest, config_digest, arc.tell(), layers)


def _split_tag(ref: str) -> tuple[str, str, str]:
    """("name", ":", "tag") of a reference; the tag is "latest" when none is given."""
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ":", ref[colon + 1:]
    return ref, ":", "latest"
