"""Facts for `onboard status`: the active profile of each project, the cached environments."""

from __future__ import annotations

import os
import time
from typing import Any

from onboard.core.profiles import cache, generations


def cached_envs() -> list[dict[str, Any]]:
    """Every cached environment: name, profile file, when built, fresh or why stale."""
    out = []
    for _owner, name, d in cache.env_dirs():
        m = cache.read_manifest(d)
        if m is None:
            out.append({"name": name, "dir": d, "state": "incomplete (never finished building)"})
            continue
        reason = cache.stale_reason(m, d, refresh=False) if os.path.exists(m.profile) else \
            f"its profile {m.profile} is gone"
        out.append({"name": name, "dir": d, "profile": m.profile, "project": m.project, "backend": m.backend,
                    "built": time.strftime("%Y-%m-%d %H:%M", time.localtime(m.built)),
                    "state": "fresh" if not reason else f"stale: {reason}"})
    return out


def status_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for project in generations.projects():
        gens = generations.list_generations(project)
        cur = next((g for g in gens if g.current), None)
        value = f"{cur.profile} (generation {cur.number} of {len(gens)})" if cur else \
            f"none active ({len(gens)} generations)"
        facts[f"active profile in {project}"] = value
    envs = cached_envs()
    if envs:
        facts["cached shell environments"] = ", ".join(
            f"{e['name']} ({e['state']})" for e in envs)
    return facts
