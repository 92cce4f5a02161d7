"""`onboard doctor`: concurrent machine checks, each ok / warn / fail with a one-line fix."""

from onboard.core.doctor.model import (STATUSES, Check, CheckFinished, CheckResult, CheckStarted, Inputs,
                                       check)
from onboard.core.doctor.runner import UnknownCheck, check_ids, load_checks, recommend_mode, run_checks

__all__ = ["STATUSES", "Check", "CheckFinished", "CheckResult", "CheckStarted", "Inputs", "check",
           "UnknownCheck", "check_ids", "load_checks", "recommend_mode", "run_checks"]
