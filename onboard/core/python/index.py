"""Finding the download URLs of a hashed requirements file on its package index.

A requirements file pins each package by version and sha256 but names no URL. The index's
PEP 503 page for the package lists its files as `<a href="URL#sha256=HEX">FILE</a>`; each
file whose sha256 is one of the line's hashes becomes an `Artifact`. Only urllib is used:
no pip or uv configuration is read.

The URLs found are cached in `~/.cache/onboard/python-index/<key>.json`, the key a sha256 of
the bytes of the requirements file (and every `-r`/`-c` file it reads) and the indexes asked:
a re-render of an unchanged file needs no network, and a changed file asks again. When the
index cannot be reached and nothing is cached, the problem says so in plain words.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from html.parser import HTMLParser
from typing import Callable, Optional
from urllib.parse import unquote, urljoin, urlsplit

from onboard.core.python.model import Artifact, Lock, Package
from onboard.core.python.tags import parse_filename
from onboard.core.schema import Problem

__all__ = ["locate_artifacts", "parse_simple_page", "PYPI", "cache_path"]

PYPI = "https://pypi.org/simple"
Fetch = Callable[[str], str]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def parse_simple_page(html: str, page_url: str) -> list[Artifact]:
    """The files of a PEP 503 project page that carry a sha256 fragment."""
    p = _Links()
    p.feed(html)
    out: list[Artifact] = []
    for href in p.hrefs:
        url = urljoin(page_url, href)
        base, _, frag = url.partition("#")
        algo, _, digest = frag.partition("=")
        if algo != "sha256" or len(digest) != 64:
            continue
        filename = unquote(urlsplit(base).path.rsplit("/", 1)[-1])
        out.append(Artifact(filename=filename, url=base, sha256=digest.lower()))
    return out


def _fetch(url: str) -> str:
    req = urllib.request.Request(url, headers={"Accept": "text/html"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - http(s) index URLs only
        return resp.read().decode("utf-8", errors="replace")


def _cache_root() -> str:
    from onboard.core import paths

    return str(paths.cache_dir() / "python-index")


def cache_path(lock: Lock, indexes: list[str]) -> Optional[str]:
    """The cache file of this requirements file's content and indexes; None when a file is unreadable."""
    h = hashlib.sha256(b"onboard-python-index-1\0")
    for path in lock.inputs:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        h.update(hashlib.sha256(data).digest())
    h.update("\0".join(indexes).encode())
    return os.path.join(_cache_root(), h.hexdigest() + ".json")


def _read_cache(path: Optional[str]) -> Optional[dict[str, list[Artifact]]]:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return {name: [Artifact(filename=a[0], url=a[1], sha256=a[2]) for a in arts]
                for name, arts in doc["packages"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _write_cache(path: Optional[str], lock: Lock) -> None:
    if path is None:
        return
    doc = {"packages": {p.name: [[a.filename, a.url, a.sha256] for a in p.artifacts] for p in lock.packages}}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache: the next render asks the index again


def _place(pkg: Package, arts: list[Artifact]) -> None:
    for art in arts:
        parsed = parse_filename(art.filename)
        if art.sha256 not in pkg.hashes or parsed is None:
            continue
        if parsed[2] == "wheel":
            pkg.wheels.append(art)
        elif pkg.sdist is None:
            pkg.sdist = art


def locate_artifacts(lock: Lock, index_urls: Optional[list[str]] = None,
                     fetch: Optional[Fetch] = None) -> list[Problem]:
    """Give every package of a requirements `lock` without artifacts the files its hashes
    name, from the first index (the file's own -i/--extra-index-url, else `index_urls`, else
    PyPI) whose page has them; from the cache when this file's content was looked up before.
    Problems for network failures; a package still without artifacts is reported by selection."""
    indexes = lock.index_urls or index_urls or [PYPI]
    wanted = [pkg for pkg in lock.packages if not pkg.artifacts and pkg.hashes]
    if not wanted:
        return []
    cached_at = cache_path(lock, indexes) if fetch is None else None
    cached = _read_cache(cached_at)
    if cached is not None and all(cached.get(pkg.name) for pkg in wanted):
        for pkg in wanted:
            _place(pkg, cached[pkg.name])
        return []
    fetch = fetch or _fetch
    problems: list[Problem] = []
    pages: dict[str, list[Artifact]] = {}
    down: dict[str, str] = {}  # index -> why it cannot be reached
    for pkg in wanted:
        for index in indexes:
            if index in down:
                continue
            page_url = f"{index.rstrip('/')}/{pkg.name}/"
            if page_url not in pages:
                try:
                    pages[page_url] = parse_simple_page(fetch(page_url), page_url)
                except urllib.error.HTTPError as exc:
                    problems.append(Problem(pkg.file, pkg.line, 0, f"{pkg.name}: the index has no page for it: "
                                                                   f"{page_url} answered {exc.code}"))
                    pages[page_url] = []
                except (OSError, ValueError) as exc:
                    why = str(getattr(exc, "reason", exc))
                    down[index] = why
                    problems.append(Problem(pkg.file, pkg.line, 0,
                                            f"cannot reach the package index {index} ({why}) to find the "
                                            f"download URLs of this requirements file, and they are not "
                                            f"cached from an earlier look-up of the same file: connect to the "
                                            f"network (or start the index) and load the profile again once; "
                                            f"after that it works offline until the file changes"))
                    continue
            _place(pkg, pages[page_url])
            if pkg.artifacts:
                break
    if not problems and all(pkg.artifacts for pkg in wanted):
        _write_cache(cached_at, lock)
    return problems
