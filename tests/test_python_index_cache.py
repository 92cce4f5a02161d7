"""A hashed requirements file's download URLs are cached by the file's content: an unchanged file
needs no network; with the index gone and nothing cached, the problem says so in plain words."""

from __future__ import annotations

from pathlib import Path

from onboard.core.python import read_lock
from onboard.core.python.index import cache_path, locate_artifacts
from tests.support.pyindex import pyindex, sha256_of  # noqa: F401


def _located(req: Path, url: str) -> tuple[list[str], list[str]]:
    lock, problems = read_lock(str(req), kind="requirements")
    assert problems == [] and lock is not None
    found = locate_artifacts(lock, [url])
    return [a.url for p in lock.packages for a in p.artifacts], [p.message for p in found]


def test_unchanged_requirements_need_no_network(tmp_path, pyindex):  # noqa: F811
    wheel = pyindex.add("tinyalpha", "1.0")
    pyindex.start()
    url = pyindex.url
    inc = tmp_path / "more.txt"
    inc.write_text("")
    req = tmp_path / "requirements.txt"
    req.write_text(f"-r more.txt\ntinyalpha==1.0 --hash=sha256:{sha256_of(wheel)}\n")
    urls, problems = _located(req, url)
    assert problems == [] and urls == [f"http://127.0.0.1:{pyindex.port}/files/tinyalpha-1.0-py3-none-any.whl"]
    lock, _ = read_lock(str(req), kind="requirements")
    assert lock is not None and Path(str(cache_path(lock, [url]))).is_file()

    pyindex.stop()
    assert _located(req, url) == (urls, [])  # from the cache

    inc.write_text("# an included file changed: the content differs, so the index is asked again\n")
    urls2, problems = _located(req, url)
    assert urls2 == [] and len(problems) == 1
    assert problems[0].startswith(f"cannot reach the package index {url} (")
    assert "not cached from an earlier look-up of the same file" in problems[0]
