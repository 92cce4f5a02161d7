"""Ask Nix for the closure before `onboard export container`'s command line is parsed.

An export's floor is Nix's closure query (`nix path-info -r --json`) and the bytes of the
closure; onboard's start-up (the interpreter, argparse, its modules) can run beside the query
instead of before it. `start(words)` reads the words after `export` just enough to find the
project's environment (`container`, a profile name, `--project DIR`) and spawns the query with
verify's early functions (verify/early.py: `locate`, `spawn`), so that `record.locate` takes it
when it asks exactly that question and starts its own otherwise. Anything unusual (help, no
project, no manifest) starts nothing; a query not taken is killed when the command ends.
"""

from __future__ import annotations

from onboard.core.verify import early

_VALUED = ("--out", "--project", "--cmd", "--tag")


def start(words: list[str]) -> None:
    if words[:1] != ["container"]:
        return
    found = early.locate(words[1:], _VALUED)
    if found is not None:
        early.spawn(*found, check=False)
