"""A loopback PEP 503 package index serving wheels the tests write themselves.

`make_wheel` writes a real (tiny) wheel with zipfile: METADATA (with Requires-Dist), WHEEL
(its tags) and RECORD. `write_index` lays out ROOT/files/*.whl and ROOT/simple/NAME/index.html
with `#sha256=` links. `Index` serves ROOT from a separate process bound to 127.0.0.1 on a
free port (`python tests/support/pyindex.py ROOT`, which prints the port) and stops it by
its pid; the `pyindex` fixture gives a started one and stops it after the test.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator, Optional, Sequence

import pytest

__all__ = ["make_wheel", "write_index", "Index", "pyindex", "sha256_of"]


def sha256_of(path: os.PathLike | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_wheel(outdir: os.PathLike | str, name: str, version: str, tag: str = "py3-none-any",
               requires: Sequence[str] = ()) -> Path:
    """Write NAME-VERSION-TAG.whl into outdir; `requires` become Requires-Dist lines."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    py, abi, plat = tag.split("-")
    tags = [f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split(".")]
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    wheel = ("Wheel-Version: 1.0\nGenerator: onboard-tests\n"
             f"Root-Is-Purelib: {'true' if plat == 'any' else 'false'}\n" + "".join(f"Tag: {t}\n" for t in tags))
    files = {f"{module}/__init__.py": f"VERSION = {version!r}\nTAG = {tag!r}\n",
             f"{dist}/METADATA": meta, f"{dist}/WHEEL": wheel}
    record = []
    for path, body in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(body.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    out = Path(outdir) / f"{module}-{version}-{tag}.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as z:
        for path, body in files.items():
            z.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), body)
    return out


def write_index(root: os.PathLike | str) -> None:
    """(Re)write ROOT/simple/ from the files in ROOT/files/."""
    root = Path(root)
    by: dict[str, list[Path]] = {}
    for f in sorted((root / "files").iterdir()):
        project = f.name.split("-")[0].replace("_", "-").lower()
        by.setdefault(project, []).append(f)
    (root / "simple").mkdir(parents=True, exist_ok=True)
    links = []
    for project, files in by.items():
        d = root / "simple" / project
        d.mkdir(exist_ok=True)
        body = "".join(f'<a href="../../files/{f.name}#sha256={sha256_of(f)}">{f.name}</a>\n' for f in files)
        (d / "index.html").write_text(f"<html><body>\n{body}</body></html>\n")
        links.append(f'<a href="{project}/">{project}</a>\n')
    (root / "simple" / "index.html").write_text("<html><body>\n" + "".join(links) + "</body></html>\n")


class Index:
    """The index at ROOT, served by a child process on 127.0.0.1."""

    def __init__(self, root: os.PathLike | str) -> None:
        self.root = Path(root)
        (self.root / "files").mkdir(parents=True, exist_ok=True)
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def add(self, name: str, version: str, tag: str = "py3-none-any", requires: Sequence[str] = ()) -> Path:
        path = make_wheel(self.root / "files", name, version, tag, requires)
        write_index(self.root)
        return path

    def start(self) -> "Index":
        write_index(self.root)
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.root)], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"the test index did not start (said {line!r})")
        self.port = int(line)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        self.proc = None


@pytest.fixture
def pyindex(tmp_path: Path) -> Iterator[Index]:
    index = Index(tmp_path / "index")
    yield index
    index.stop()


def _serve(root: str) -> None:
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=root)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    _serve(sys.argv[1])
