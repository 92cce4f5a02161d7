"""A profile's services as data: one ServiceSpec each, in start order (`after` first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from onboard.core.services import registry

Port = Union[int, str, None]  # a number, "auto", or None (a command of your own without a port)


@dataclass
class ServiceSpec:
    name: str
    kind: str
    port: Port = "auto"
    package: str = ""
    data_dir: str = ""  # as the profile says (relative to the project root), "" for the state directory
    databases: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    run: str = ""
    ready: dict[str, Any] = field(default_factory=dict)
    stop: str = ""
    grace: Optional[float] = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        k = registry.by_id(self.kind)
        return k.label if k.named else self.name


def from_conf(name: str, conf: dict[str, Any]) -> ServiceSpec:
    kind = registry.by_id(conf.get("kind") or registry.kind_of(name, conf).id)
    return ServiceSpec(
        name=name, kind=kind.id, port=conf.get("port", "auto"),
        package=conf.get("package") or kind.package, data_dir=conf.get("data_dir", ""),
        databases=list(conf.get("databases", [])), extensions=list(conf.get("extensions", [])),
        settings={str(k): str(v) for k, v in (conf.get("settings") or {}).items()},
        after=list(conf.get("after", [])), run=conf.get("run", ""), ready=dict(conf.get("ready") or {}),
        stop=conf.get("stop", ""), grace=conf.get("grace"), env=dict(conf.get("env") or {}))


def specs(services: dict[str, Any]) -> list[ServiceSpec]:
    """The enabled services of a profile (its `services` mapping), dependencies first."""
    enabled = {n: c for n, c in services.items() if isinstance(c, dict) and c.get("enable", True)}
    out: list[ServiceSpec] = []
    done: set[str] = set()

    def add(n: str, seen: tuple[str, ...]) -> None:
        if n in done or n not in enabled or n in seen:
            return
        for dep in enabled[n].get("after", []):
            add(dep, seen + (n,))
        done.add(n)
        out.append(from_conf(n, enabled[n]))

    for n in sorted(enabled):
        add(n, ())
    return out


def packages(services: dict[str, Any]) -> list[str]:
    """The packages the services need in the environment, in start order."""
    seen: list[str] = []
    for s in specs(services):
        if s.package and s.package not in seen:
            seen.append(s.package)
    return seen


__all__ = ["ServiceSpec", "from_conf", "specs", "packages"]
