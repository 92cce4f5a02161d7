"""The variables a project's services give the shell (PGPORT, DATABASE_URL, REDIS_URL, ...),
kept in the project's state and exported at entry, whether the services run or not: by
`onboard shell` (its warm path too), the direnv library and so the editors. They are never
part of the Nix environment, so choosing a port never rebuilds it.

The file is `NAME=VALUE` lines (values hold no newline), one per profile of the project:
$state/projects/<key>/services/env.<profile>. This module is on the warm path: os only.
"""

from __future__ import annotations

import os

DIR = "services"


def path(project_state: str, profile: str) -> str:
    """The variables file of `profile`, in the project's state directory `project_state`."""
    return os.path.join(project_state, DIR, "env." + profile)


def read(file: str) -> dict[str, str] | None:
    """The variables in `file`, or None when there is no such file."""
    try:
        with open(file, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    out: dict[str, str] = {}
    for line in text.split("\n"):
        name, sep, value = line.partition("=")
        if sep and name and not name.startswith("#"):
            out[name] = value
    return out


def render(variables: dict[str, str]) -> str:
    head = "# onboard: the variables of this project's services (generated; onboard services)\n"
    return head + "".join(f"{k}={v}\n" for k, v in sorted(variables.items()) if "\n" not in v)
