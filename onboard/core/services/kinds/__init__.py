"""What is particular to each service kind (one module each, named in the registry):

    PROGRAMS                  the executables it needs from the profile's environment
    STOP, GRACE               the signal that stops it and the seconds before SIGKILL
    UNPRIVILEGED              True: never run as root (run as an unprivileged uid instead)
    variables(spec, port, data_dir) -> {NAME: VALUE} for the shell
    needs_init(svc), init_argv(svc), finish_init(svc)   a first-time step (initdb)
    clear_stale(svc) -> ""    leftovers of an unclean stop (stale postmaster.pid), or why not
    argv(svc)                 the server, in the foreground
    probe(svc) -> bool        ready means answering (a query, a PING)
    after_ready(svc)          e.g. create the databases

`svc` is the service's entry of run.json (a dict, see control.run_entry).
"""

from __future__ import annotations

from typing import Any


# the first-time-step hooks of a kind that has none (Redis, a command of your own)
def no_init(svc: dict[str, Any]) -> bool:
    return False


def no_init_argv(svc: dict[str, Any]) -> list[str]:
    return []


def no_finish_init(svc: dict[str, Any]) -> None:
    pass
