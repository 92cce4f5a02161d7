"""How the guided setup ends: its exit code and the one line it leaves on the terminal.
No textual here.

    0    the user left before Apply, or after Done
    1    a run failed (also when the user quits from the Failure screen)
    130  Ctrl+C, anywhere
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onboard.tui.state import AppState

OK, FAILED, INTERRUPTED = 0, 1, 130


def exit_code(state: AppState) -> int:
    run = state.last_run
    if run is not None and run.status != "ok":
        return FAILED
    return OK


def leaving_line(state: AppState, code: int) -> str:
    """One line: the outcome and the next command."""
    run = state.last_run
    answers = run.answers_path if run is not None else ""
    resume = f"onboard apply --answers {answers} --yes" if answers else "onboard install --yes"
    if code == INTERRUPTED:
        if run is None and not state.interrupted:
            return "onboard: interrupted; nothing was changed. Start again with `onboard`."
        return (f"onboard: interrupted; the steps done so far are recorded. `onboard status` shows them; "
                f"`{resume}` resumes.")
    if run is None:
        return "onboard: nothing was changed. Start again with `onboard`, or `onboard install --yes`."
    if run.status == "ok":
        if run.kind == "apply" and run.profile:
            return f"onboard: done. Enter the environment with `onboard shell {run.profile}` (or cd into the project)."
        if run.kind == "apply":
            return "onboard: done. `onboard status` shows what is set up."
        return f"onboard: {run.kind} done. `onboard status` shows what is left."
    if run.kind == "apply":
        step = run.failure.description if run.failure is not None else run.title
        return f"onboard: the setup stopped ({run.status}) at: {step}. `{resume}` resumes; `onboard status`."
    return f"onboard: {run.kind} {run.status}. `onboard status` shows what is in place."


__all__ = ["exit_code", "leaving_line", "OK", "FAILED", "INTERRUPTED"]
