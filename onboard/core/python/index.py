"""Finding the download URLs of a hashed requirements file on its package index.

A requirements file pins each package by version and sha256 but names no URL. The index's
PEP 503 page for the package lists its files as `<a href="URL#sha256=HEX">FILE</a>`; each
file whose sha256 is one of the line's hashes becomes an `Artifact`. Only urllib is used:
no pip or uv configuration is read. The result belongs in a cache keyed by the
requirements file's hash, so entering the shell again needs no network.
"""

from __future__ import annotations

import urllib.request
from html.parser import HTMLParser
from typing import Callable, Optional
from urllib.parse import unquote, urljoin, urlsplit

from onboard.core.python.model import Artifact, Lock
from onboard.core.python.tags import parse_filename
from onboard.core.schema import Problem

__all__ = ["locate_artifacts", "parse_simple_page", "PYPI"]

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


def locate_artifacts(lock: Lock, index_urls: Optional[list[str]] = None,
                     fetch: Optional[Fetch] = None) -> list[Problem]:
    """Give every package of a requirements `lock` without artifacts the files its hashes
    name, from the first index (the file's own -i/--extra-index-url, else `index_urls`, else
    PyPI) whose page has them. Problems for network failures; a package still without
    artifacts is reported by selection."""
    fetch = fetch or _fetch
    indexes = lock.index_urls or index_urls or [PYPI]
    problems: list[Problem] = []
    pages: dict[str, list[Artifact]] = {}
    for pkg in lock.packages:
        if pkg.artifacts or not pkg.hashes:
            continue
        for index in indexes:
            page_url = f"{index.rstrip('/')}/{pkg.name}/"
            if page_url not in pages:
                try:
                    pages[page_url] = parse_simple_page(fetch(page_url), page_url)
                except (OSError, ValueError) as exc:
                    problems.append(Problem(pkg.file, pkg.line, 0, f"{pkg.name}: cannot read the index page "
                                                                   f"{page_url}: {getattr(exc, 'reason', exc)}"))
                    pages[page_url] = []
            for art in pages[page_url]:
                parsed = parse_filename(art.filename)
                if art.sha256 not in pkg.hashes or parsed is None:
                    continue
                if parsed[2] == "wheel":
                    pkg.wheels.append(art)
                elif pkg.sdist is None:
                    pkg.sdist = art
            if pkg.artifacts:
                break
    return problems
