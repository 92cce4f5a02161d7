"""onboard status: what onboard has done on this machine, and what is half done."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "what onboard has changed here, and anything left half done"


def register(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.status import collect_status

    st = collect_status()
    if out.json:
        out.emit_json(**st)
        return 0
    if not st["receipts"]:
        out.line("onboard has made no changes on this machine.")
    for r in st["receipts"]:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r["actions"].items()))
        out.line(f"{r['name']}: {r['status']} ({counts})")
        out.line(f"  receipt: {r['path']}")
        if r["status"] not in ("applied",):
            out.line("  half done: run `onboard apply` again to finish, or `onboard uninstall` to undo")
    for k, v in st.get("extra", {}).items():
        out.line(f"{k}: {v}")
    return 0
