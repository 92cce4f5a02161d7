"""The runs the TUI starts: apply a plan, revert a receipt, uninstall everything.

Each job runs in a worker thread, calls the core through `Services` with the bridge as
its emitter, and returns a `JobResult`. No textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from onboard.core.choices import Choices
    from onboard.core.engine.plan import CancelToken, Outcome, Plan
    from onboard.core.events import Emitter
    from onboard.core.uninstall import UninstallPlan
    from onboard.tui.services import Services


@dataclass
class JobResult:
    status: str  # ok | failed | cancelled
    errors: list[str] = field(default_factory=list)
    outcome: Optional[Outcome] = None
    answers_path: str = ""


class Job:
    kind = "job"
    cancellable = False
    verb = "Running"

    def __init__(self, services: Services, title: str) -> None:
        self.services = services
        self.title = title

    @property
    def log_name(self) -> str:
        return self.kind

    def run(self, emit: Emitter, cancel: CancelToken) -> JobResult:
        raise NotImplementedError


def _locked_or_error(exc: Exception) -> str:
    return str(exc) if type(exc).__name__ == "LockedError" else f"{type(exc).__name__}: {exc}"


class ApplyJob(Job):
    kind = "apply"
    cancellable = True
    verb = "Applying"

    def __init__(self, services: Services, plan: Plan, choices: Optional[Choices] = None) -> None:
        super().__init__(services, plan.title or plan.name)
        self.plan = plan
        self.choices = choices

    @property
    def log_name(self) -> str:
        return self.plan.name

    def run(self, emit: Emitter, cancel: CancelToken) -> JobResult:
        try:
            outcome = self.services.apply(self.plan, emit, cancel)
            result = JobResult(outcome.status, list(outcome.errors), outcome)
        except Exception as exc:  # the apply lock is held elsewhere, or the engine broke
            result = JobResult("failed", [_locked_or_error(exc)])
        result.answers_path = self.save_answers(result)
        return result

    def save_answers(self, result: JobResult) -> str:
        """The answers are saved after every run, whatever its outcome, to be replayed."""
        if self.choices is None:
            return ""
        path = self.services.answers_path()
        try:
            self.choices.save(path)
        except OSError as exc:
            result.errors.append(f"could not save the answers to {path}: {exc}")
            return ""
        return str(path)


class RevertJob(Job):
    kind = "revert"
    verb = "Undoing"

    def __init__(self, services: Services, outcome: Optional[Outcome], title: str) -> None:
        super().__init__(services, f"undo: {title}")
        self.outcome = outcome

    def run(self, emit: Emitter, cancel: CancelToken) -> JobResult:
        if self.outcome is None or self.outcome.receipt is None:
            return JobResult("failed", ["there is no receipt to revert: nothing was recorded"])
        try:
            out = self.services.undo_run(self.outcome, emit)
        except Exception as exc:
            return JobResult("failed", [_locked_or_error(exc)])
        return JobResult(out.status, list(out.errors), out)


class UninstallJob(Job):
    kind = "uninstall"
    verb = "Uninstalling"

    def __init__(self, services: Services, plan: UninstallPlan) -> None:
        super().__init__(services, "uninstall everything onboard did")
        self.plan = plan

    def run(self, emit: Emitter, cancel: CancelToken) -> JobResult:
        try:
            errors = list(self.services.run_uninstall(self.plan, emit))
        except Exception as exc:
            return JobResult("failed", [_locked_or_error(exc)])
        return JobResult("failed" if errors else "ok", errors)


def receipt_has_changes(outcome: Optional[Outcome]) -> bool:
    """True when the run left something to undo (the core's "undo this run" has work)."""
    from onboard.core.engine.plan import Outcome, this_run_changes

    return isinstance(outcome, Outcome) and bool(this_run_changes(outcome))
