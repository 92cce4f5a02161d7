"""`onboard` with no argument on a terminal: the guided setup.

    run_tui(argv=None) -> exit code

Options (after `onboard` is started with no argument they come from argv, or the
environment): `--demo DIR` or ONBOARD_DEMO_DIR=DIR runs the whole flow on a harmless demo
plan inside DIR (every screen says so); `--profiles` / `--uninstall` open those screens.

Off a terminal it refuses and names the headless commands (`onboard install --yes`,
`onboard apply --yes`), which run the same plans with progress on stderr. When the user
picks "enter the shell now" on the last screen, the TUI ends and `onboard shell PROFILE`
replaces this process in the same terminal.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from onboard.tui.app import OnboardApp

USAGE = """usage: onboard [--demo DIR] [--profiles | --uninstall]
  the guided setup on a terminal (what `onboard` with no argument opens)
  --demo DIR    run the flow on a harmless demo plan inside DIR (also ONBOARD_DEMO_DIR=DIR)
  --profiles    open the Profiles screen (switch, rollback)
  --uninstall   open the Uninstall screen
"""


def _parse(argv: list[str]) -> tuple[Optional[dict], str]:
    opts = {"demo": os.environ.get("ONBOARD_DEMO_DIR", ""), "start": "welcome"}
    it = iter(argv)
    for arg in it:
        if arg == "--demo":
            value = next(it, "")
            if not value:
                return None, "--demo needs a directory"
            opts["demo"] = value
        elif arg.startswith("--demo="):
            opts["demo"] = arg.split("=", 1)[1]
        elif arg in ("--profiles", "--uninstall"):
            opts["start"] = arg[2:]
        elif arg in ("-h", "--help"):
            return None, ""
        else:
            return None, f"unknown option {arg!r}"
    return opts, ""


def run_tui(argv: Optional[list[str]] = None) -> int:
    opts, problem = _parse(list(argv or []))
    if opts is None:
        if problem:
            sys.stderr.write(f"onboard: error: {problem}\n{USAGE}")
            return 2
        sys.stdout.write(USAGE)
        return 0
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write(
            "onboard: error: the guided setup needs a terminal (stdin and stdout are not one)\n"
            "  what to do: run `onboard install --yes` (or `onboard apply --yes --answers FILE`) for the\n"
            "  same setup without a terminal, with progress on stderr; `onboard --help` lists commands\n")
        return 2
    demo = opts["demo"]
    if demo:
        demo = os.path.abspath(os.path.expanduser(demo))
        if not os.path.isdir(demo):
            sys.stderr.write(f"onboard: error: demo directory {demo} does not exist\n"
                             "  what to do: create it first, e.g. `mkdir -p DIR`\n")
            return 2

    from onboard.tui.app import OnboardApp

    return finish(OnboardApp(demo_dir=demo, start=opts["start"]))


def finish(app: "OnboardApp") -> int:
    """Run the app to its end and leave as it says: the exit code, one line on the terminal,
    or `onboard shell PROFILE` in this process."""
    result = app.run()
    if result is None:  # ended by an error Textual has already printed
        return 1 if app.return_code else 0
    if result.message:
        sys.stdout.write(result.message + "\n")
    if result.code == 130:
        # a second Ctrl+C during a run leaves at once: its worker thread is not waited for (every
        # step is journaled before it runs, so `onboard status` and `onboard apply` pick it up),
        # but what the running step started (Nix and its builders) is stopped first
        if app.running:
            from onboard.tui.children import stop_children

            left = stop_children()
            if left:
                sys.stdout.write("onboard: could not stop process(es) " + ", ".join(map(str, left))
                                 + " started by the interrupted step\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    if result.action == "shell" and result.profile:
        sys.stdout.flush()
        argv_shell = [sys.executable, "-m", "onboard", "shell", result.profile]
        try:
            os.execv(sys.executable, argv_shell)
        except OSError as exc:
            sys.stderr.write(f"onboard: error: could not start `onboard shell {result.profile}`: {exc}\n")
            return 1
    return result.code
