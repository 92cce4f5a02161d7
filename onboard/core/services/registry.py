"""The service kinds: one registry, read everywhere else (the profile schema, the variables
exported at entry, the supervisor, `onboard services`, the TUI).

A kind is a module of onboard.core.services.kinds. `postgresql` and `redis` are named after
themselves in a profile (`services: {postgresql: {...}}`); a service of any other name is a
command of your own, the `generic` kind, and needs `run:`.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple, Optional

COMMON_KEYS = ("enable", "port", "after")


class Kind(NamedTuple):  # not a dataclass: the supervisor imports this, and starts in milliseconds
    id: str
    label: str
    module: str  # onboard.core.services.kinds.<module>
    package: str  # the package-set attribute added to the environment ("" for none)
    keys: tuple[str, ...]  # the keys of services.<name> (besides COMMON_KEYS)
    named: bool = True  # False: any service name with `run:` (the generic kind)

    def all_keys(self) -> tuple[str, ...]:
        return COMMON_KEYS + self.keys

    def impl(self) -> Any:
        return importlib.import_module(f"onboard.core.services.kinds.{self.module}")


KINDS: tuple[Kind, ...] = (
    Kind("postgresql", "PostgreSQL", "postgresql", "postgresql",
         ("package", "data_dir", "databases", "extensions", "settings")),
    Kind("redis", "Redis", "redis", "redis", ("package", "data_dir", "settings")),
    Kind("generic", "a command of your own", "generic", "",
         ("run", "ready", "stop", "grace", "env", "data_dir"), named=False),
)

GENERIC = next(k for k in KINDS if not k.named)
NAMED = tuple(k.id for k in KINDS if k.named)


def by_id(kind_id: str) -> Kind:
    for k in KINDS:
        if k.id == kind_id:
            return k
    raise KeyError(kind_id)


def kind_of(name: str, conf: Optional[dict[str, Any]] = None) -> Kind:
    """The kind of the service `name` in a profile (`run:` makes any name generic)."""
    for k in KINDS:
        if k.named and k.id == name and not (conf and "run" in conf):
            return k
    return GENERIC


__all__ = ["Kind", "KINDS", "GENERIC", "NAMED", "by_id", "kind_of", "COMMON_KEYS"]
