"""`onboard status`: the projects whose services run now."""

from __future__ import annotations

from typing import Any


def status_facts() -> dict[str, Any]:
    from onboard.core.services import control, state

    running = []
    for root in state.projects_with_services():
        if control.running(root):
            st = control.read_status(root)
            names = ", ".join(f"{n} ({e.get('state')}, port {e.get('port')})"
                              for n, e in sorted((st.get("services") or {}).items()))
            running.append(f"{root} [{st.get('profile')}]: {names}")
    return {"services running": "; ".join(running) if running else "none"}
