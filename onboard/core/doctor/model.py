"""The doctor's data: check results, the events emitted while checks run, the inputs checks read,
and the registry of checks."""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Optional

from onboard.core.events import Event

STATUSES = ("ok", "warn", "fail")


@dataclass
class CheckResult:
    id: str
    title: str
    status: str  # ok | warn | fail
    summary: str
    fix: str = ""  # one line; empty when status is ok
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.id}: status {self.status!r} is not one of {STATUSES}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckStarted(Event):
    kind = "check-started"
    id: str = ""
    title: str = ""


@dataclass
class CheckFinished(Event):
    kind = "check-finished"
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inputs:
    """Everything a check reads from the machine. Tests replace any of it with fake trees.

    The defaults are the real machine. `None` means "ask the machine" for values that are
    not paths (arch, kernel release, shell, root, sudo, PATH, environment).
    """

    root: str = "/"  # where etc/os-release and run/systemd live
    proc_root: str = "/proc"
    sys_root: str = "/sys"
    etc_root: str = "/etc"
    nix_root: str = "/nix"
    dpkg_info: str = "/var/lib/dpkg/info"
    home: Optional[str] = None
    path: Optional[str] = None  # PATH
    env: Optional[dict[str, str]] = None  # proxies
    arch: Optional[str] = None
    kernel: Optional[str] = None
    shell: Optional[str] = None
    root_user: Optional[bool] = None
    uid: Optional[int] = None  # whose files count as "yours" (default: the effective uid)
    sudo: Optional[bool] = None
    net_timeout: float = 0.6
    hosts: dict[str, str] = field(default_factory=lambda: {
        "releases": "releases.nixos.org", "cache": "cache.nixos.org"})
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def make(cls, overrides: "Inputs | dict[str, Any] | None" = None) -> "Inputs":
        if isinstance(overrides, Inputs):
            return overrides
        overrides = dict(overrides or {})
        names = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown doctor inputs: {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(names))})")
        return cls(**overrides)

    # resolved values ---------------------------------------------------------------------
    def home_dir(self) -> str:
        return self.home if self.home is not None else os.path.expanduser("~")

    def path_value(self) -> str:
        return self.path if self.path is not None else os.environ.get("PATH", "")

    def environ(self) -> dict[str, str]:
        return self.env if self.env is not None else dict(os.environ)

    def which(self, name: str) -> str:
        for d in self.path_value().split(os.pathsep):
            if not d:
                continue
            cand = os.path.join(d, name)
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
        return ""

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a shared fact once, even when several checks ask for it at the same time."""
        with self._lock:
            slot = self._memo.get(key)
            if slot is None:
                slot = self._memo[key] = [threading.Lock(), False, None]
        with slot[0]:
            if not slot[1]:
                slot[2] = compute()
                slot[1] = True
            return slot[2]

    # shared facts ------------------------------------------------------------------------
    def nix(self):  # -> Optional[machine.NixFacts]
        from onboard.core import machine

        return self.memo("nix", lambda: machine.existing_nix(
            self.nix_root, self.etc_root, home=self.home_dir(), path=self.path_value(),
            timeout=1.0, dpkg_info=self.dpkg_info))

    def init(self) -> str:
        from onboard.core import machine

        return self.memo("init", lambda: machine.init_system(self.root, self.proc_root))

    def container(self) -> str:
        from onboard.core import machine

        return self.memo("container", lambda: machine.in_container(self.proc_root, self.root))

    def wsl(self) -> int:
        from onboard.core import machine

        return self.memo("wsl", lambda: machine.is_wsl(self.proc_root))


CheckFn = Callable[[Inputs], CheckResult]


@dataclass
class Check:
    id: str
    title: str
    fn: CheckFn

    def result(self, status: str, summary: str, fix: str = "", **details: Any) -> CheckResult:
        return CheckResult(self.id, self.title, status, summary, fix if status != "ok" else "", details)


REGISTRY: dict[str, Check] = {}


def check(id: str, title: str) -> Callable[[Callable[[Check, Inputs], CheckResult]], CheckFn]:
    """Register a check. The function gets its Check (for `.result(...)`) and the Inputs."""

    def wrap(fn: Callable[[Check, Inputs], CheckResult]) -> CheckFn:
        if id in REGISTRY:
            raise ValueError(f"duplicate doctor check id {id!r}")
        c = Check(id, title, lambda inp: fn(c, inp))
        REGISTRY[id] = c
        return c.fn

    return wrap
