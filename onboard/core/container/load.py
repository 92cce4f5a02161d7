"""`--load`: the archive handed to podman, else docker, whichever is on PATH first in that
order (podman reads OCI archives natively; docker from version 25 on, and older ones through
the archive's manifest.json)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Optional

ENGINES = ("podman", "docker")


@dataclass
class Loaded:
    engine: str
    image: str  # what the engine says it loaded
    output: str


class LoadError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def find_engine(path: Optional[str] = None) -> str:
    """The first of podman, docker on PATH ("" when neither is)."""
    for e in ENGINES:
        found = shutil.which(e, path=path)
        if found:
            return found
    return ""


def load(archive: str, tag: str, engine: str = "") -> Loaded:
    """`ENGINE load -i ARCHIVE`. Raises LoadError."""
    engine = engine or find_engine()
    if not engine:
        raise LoadError("neither podman nor docker is on PATH, so the image was not loaded",
                        f"install one, or load {archive} elsewhere: podman load -i {archive}")
    name = engine.rsplit("/", 1)[-1]
    try:
        r = subprocess.run([engine, "load", "-i", archive], capture_output=True, text=True, timeout=600,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LoadError(f"{name} load could not run: {exc}", f"load it by hand: {name} load -i {archive}") from None
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["no message"])[-1]
        raise LoadError(f"{name} load failed: {tail}", f"the archive is kept: {archive}")
    said = r.stdout.strip().splitlines()
    image = next((ln.split(":", 1)[1].strip() for ln in reversed(said) if ln.lower().startswith("loaded image")),
                 tag)
    return Loaded(name, image, r.stdout.strip())
