"""`services:` of a profile, checked with positions (every problem at file:line:col, with
did-you-mean). What each kind accepts comes from the registry."""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from onboard.core.schema import Checker, YNode
from onboard.core.schema.suggest import suffix
from onboard.core.services import registry

NAME_RE = r"[a-z][a-z0-9_-]{0,30}"
NAME_HINT = "a service name is lower-case letters, digits, '_' and '-', starting with a letter"
SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL")
SETTING_RE = r"[A-Za-z_][A-Za-z0-9_.-]*"
DB_RE = r"[A-Za-z_][A-Za-z0-9_-]{0,62}"
READY_KEYS = ("tcp", "http", "command")

REFERENCE = """\
services:                   each service runs on loopback, started by `onboard services up`
                            (or `onboard shell P --services -- CMD`); its variables are
                            exported at entry whether it runs or not (docs/services.md)
  postgresql:                 true, or:
    port: auto | N              auto (the default): a free loopback port chosen at the first up, kept
    package: ATTR               default postgresql (the package joins the environment)
    databases: [NAME, ...]      created at the first up (DATABASE_URL names the first)
    extensions: [NAME, ...]     CREATE EXTENSION in each database
    settings: {KEY: VALUE}      postgres -c KEY=VALUE
    data_dir: DIR               default: the project's state directory (outside the git tree)
  redis:                      true, or {port, package, settings: {KEY: VALUE}, data_dir}
  NAME:                       a command of your own
    run: COMMAND                run by bash in the profile's environment, in the foreground; $PORT is its port
    port: auto | N              exported as NAME_PORT
    ready: {tcp: port} | {tcp: N} | {http: URL} | {command: CMD}   when it counts as ready
    stop: SIGTERM               the signal that stops it; grace: 10 (seconds before SIGKILL)
    env: {NAME: VALUE}          exported to the shell too; {port} becomes the port
  after: [NAME, ...]          any service: start it after those are ready"""


def check_services(node: Optional[YNode], c: Checker, check_package: Callable[[str, YNode, Checker, str], bool]
                   ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = c.mapping(node, "services")
    if m is None:
        return out
    after_nodes: dict[str, list[tuple[str, YNode]]] = {}
    for pair in m.pairs():
        name = pair.key.value
        if not isinstance(name, str):
            c.error(pair.key, f"services: a service name must be text, got {pair.key.raw!r}")
            continue
        what = f"services.{name}"
        v = pair.value
        if v.kind == "scalar" and isinstance(v.value, bool):
            if name not in registry.NAMED:
                c.error(pair.key, _unknown(name))
                continue
            out[name] = {"kind": name, "enable": v.value, "port": "auto"}
            continue
        sm = c.mapping(v, what)
        if sm is None:
            continue
        has_run = sm.get("run") is not None
        if name not in registry.NAMED and not has_run:
            c.error(pair.key, _unknown(name))
            continue
        if not re.fullmatch(NAME_RE, name):
            c.error(pair.key, f"{what}: `{name}` is not a valid service name; {NAME_HINT}")
            continue
        kind = registry.kind_of(name, {"run": True} if has_run else None)
        c.keys(sm, kind.all_keys(), what)
        conf: dict[str, Any] = {"kind": kind.id, "enable": True, "port": "auto"}
        if sm.get("enable") is not None:
            b = c.boolean(sm.get("enable"), f"{what}.enable")
            if b is not None:
                conf["enable"] = b
        port = _port(sm.get("port"), f"{what}.port", c)
        if port is not None:
            conf["port"] = port
        elif kind.id == "generic" and sm.get("port") is None:
            conf["port"] = None  # a command of your own has a port only when it says so
        pkg_node = sm.get("package")
        if pkg_node is not None and "package" in kind.keys:
            p = c.text(pkg_node, f"{what}.package")
            if p is not None and check_package(p, pkg_node, c, f"{what}.package"):
                conf["package"] = p
        if sm.get("data_dir") is not None and "data_dir" in kind.keys:
            d = c.text(sm.get("data_dir"), f"{what}.data_dir", nonempty=True)
            if d is not None:
                if "\0" in d or "\n" in d:
                    c.error(sm.get("data_dir"), f"{what}.data_dir: a directory name cannot hold a newline")
                else:
                    conf["data_dir"] = d
        for key, pattern in (("databases", DB_RE), ("extensions", r"[A-Za-z_][A-Za-z0-9_-]*")):
            if sm.get(key) is not None and key in kind.keys:
                conf[key] = [x for x, _ in c.text_list(sm.get(key), f"{what}.{key}", pattern=pattern,
                                                         pattern_hint="letters, digits, '_' and '-'") or []]
        if sm.get("settings") is not None and "settings" in kind.keys:
            st = c.text_map(sm.get("settings"), f"{what}.settings", key_pattern=SETTING_RE,
                            key_hint="a setting name like shared_buffers")
            if st is not None:
                bad = [k for k, (val, _n) in st.items() if "\n" in val or "\0" in val]
                for k in bad:
                    c.error(st[k][1], f"{what}.settings.{k}: a setting cannot hold a newline")
                conf["settings"] = {k: val for k, (val, _n) in st.items() if k not in bad}
        if kind.id == "generic":
            _generic(sm, what, conf, c)
        if sm.get("after") is not None:
            after_nodes[name] = c.text_list(sm.get("after"), f"{what}.after") or []
            conf["after"] = [a for a, _ in after_nodes[name]]
        out[name] = conf
    for name, items in after_nodes.items():
        for a, n in items:
            if a == name:
                c.error(n, f"services.{name}.after: a service cannot wait for itself")
            elif a not in out:
                c.error(n, f"services.{name}.after: no service `{a}` in this profile{suffix(a, list(out))}")
    cycle = _cycle({k: v.get("after", []) for k, v in out.items()})
    if cycle:
        first = after_nodes.get(cycle[0]) or []
        c.error(first[0][1] if first else m, "services: `after` goes round in a circle: " + " -> ".join(cycle))
    return out


ADVICE = {"postgres": "did you mean `postgresql`?", "pg": "did you mean `postgresql`?"}


def _unknown(name: str) -> str:
    if name in ADVICE:
        return f"unknown key `services.{name}`: {ADVICE[name]}"
    return (f"unknown key `services.{name}`{suffix(name, registry.NAMED)} (onboard runs "
            f"{', '.join(registry.NAMED)}; a service of your own needs `run: COMMAND`)")


def _port(node: Optional[YNode], what: str, c: Checker) -> Any:
    if node is None:
        return None
    if node.kind == "scalar" and node.value == "auto":
        return "auto"
    if node.kind == "scalar" and isinstance(node.value, str):
        c.error(node, f"{what}: `{node.value}` is not a port: give a number (1..65535) or `auto`")
        return None
    p = c.integer(node, what, 1, 65535)
    return p


def _generic(sm: YNode, what: str, conf: dict[str, Any], c: Checker) -> None:
    run = c.text(sm.get("run"), f"{what}.run", nonempty=True)
    if run is not None:
        conf["run"] = run
    rn = sm.get("ready")
    if rn is not None:
        rm = c.mapping(rn, f"{what}.ready")
        if rm is not None:
            c.keys(rm, READY_KEYS, f"{what}.ready")
            given = [k for k in READY_KEYS if rm.get(k) is not None]
            if len(given) != 1:
                c.error(rm if rm.pairs() else rn, f"{what}.ready: give one of tcp, http or command "
                                                  f"(like `ready: {{tcp: port}}`)")
            elif given[0] == "tcp":
                tn = rm.get("tcp")
                if tn is not None and tn.kind == "scalar" and tn.value == "port":
                    if conf.get("port") is None:
                        c.error(tn, f"{what}.ready.tcp: `port` means the service's port, and it has "
                                    f"none: add `port: auto`")
                    else:
                        conf["ready"] = {"tcp": "port"}
                else:
                    t = c.integer(tn, f"{what}.ready.tcp", 1, 65535)
                    if t is not None:
                        conf["ready"] = {"tcp": t}
            elif given[0] == "http":
                u = c.text(rm.get("http"), f"{what}.ready.http", pattern=r"https?://[^\s]+",
                           pattern_hint="an http:// URL like http://127.0.0.1:{port}/health")
                if u is not None:
                    conf["ready"] = {"http": u}
            else:
                cmd = c.text(rm.get("command"), f"{what}.ready.command", nonempty=True)
                if cmd is not None:
                    conf["ready"] = {"command": cmd}
    elif conf.get("port") is not None:
        conf["ready"] = {"tcp": "port"}
    if sm.get("stop") is not None:
        s = c.text(sm.get("stop"), f"{what}.stop")
        if s is not None:
            sig = s.upper() if s.upper().startswith("SIG") else "SIG" + s.upper()
            if sig not in SIGNALS:
                c.error(sm.get("stop"), f"{what}.stop: `{s}` is not a signal onboard sends"
                                        f"{suffix(sig, SIGNALS)} (one of {', '.join(SIGNALS)})")
            else:
                conf["stop"] = sig
    gn = sm.get("grace")
    if gn is not None:
        if gn.kind == "scalar" and isinstance(gn.value, (int, float)) and not isinstance(gn.value, bool) \
                and 0 <= gn.value <= 600:
            conf["grace"] = float(gn.value)
        else:
            c.error(gn, f"{what}.grace: expected seconds (0..600), got {gn.raw!r}")
    if sm.get("env") is not None:
        em = c.text_map(sm.get("env"), f"{what}.env", key_pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                        key_hint="letters, digits and '_'")
        if em is not None:
            conf["env"] = {k: v for k, (v, _n) in em.items() if "\n" not in v}


def _cycle(graph: dict[str, list[str]]) -> list[str]:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        path.append(n)
        for m in graph.get(n, []):
            if m not in graph:
                continue
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if not state.get(m):
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return []

    for n in graph:
        if not state.get(n):
            found = visit(n)
            if found:
                return found
    return []


__all__ = ["check_services", "REFERENCE"]
