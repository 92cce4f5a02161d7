"""The options that make up Choices, shared by install, plan and apply."""

from __future__ import annotations

import argparse
from typing import Any

from onboard.core.choices import COMPONENTS, LOADERS, Choices, ChoicesError, complete
from onboard.core.integrations.editors.registry import IDS as EDITOR_IDS
from onboard.core.modes import INIT_IDS, MODES


def add_choice_args(p: argparse.ArgumentParser, *, default_mode: str = "single") -> None:
    g = p.add_argument_group("choices")
    g.add_argument("--mode", choices=[m.id for m in MODES], default=None,
                   help="Nix install mode: " + "; ".join(f"{m.id} ({m.summary})" for m in MODES) +
                        f" [default: {default_mode}]")
    g.add_argument("--init", choices=list(INIT_IDS), default="auto",
                   help="daemon mode: how nix-daemon runs; none = onboard starts and stops it "
                        "itself (containers, WSL without systemd)")
    g.add_argument("--tarball", metavar="URL|PATH",
                   help="the Nix release tarball: a URL (release site or team mirror) or a local file")
    g.add_argument("--sha256", metavar="HEX", help="SHA-256 of the tarball (64 hex digits)")
    g.add_argument("--nix-version", metavar="VERSION", help="a Nix version from the known table")
    g.add_argument("--with", dest="components", metavar="LIST", default="",
                   help="comma-separated extras: " + ",".join(COMPONENTS) +
                        f" ({' or '.join(LOADERS)} hooks; {', '.join(EDITOR_IDS)} editor configs)")
    g.add_argument("--profile", metavar="NAME", help="the team profile to set up")
    g.add_argument("--no-profile", action="store_true", default=None,
                   help="do not build the profile's environment as the plan's last step "
                        "(`onboard shell NAME` builds it on first entry)")
    g.add_argument("--project", metavar="DIR", help="project directory for .envrc and editor files")
    g.add_argument("--allow-unfree", metavar="LIST", default="",
                   help="comma-separated unfree packages to allow, one by one")
    g.add_argument("--answers", metavar="FILE", help="load choices from a saved answers file")
    g.add_argument("--skip-readonly", action="store_true", default=None,
                   help="leave files you made read-only alone (the plan lists them) instead of stopping")
    g.add_argument("--demo", metavar="DIR", help="plan harmless demo changes inside DIR instead")
    g.add_argument("--team-config", metavar="FILE",
                   help="the team config (default: onboard.yaml found from the project dir upwards, "
                        "or $ONBOARD_TEAM_CONFIG); it fills in what these options leave open")
    p.set_defaults(_default_mode=default_mode)


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def choices_from_args(args: Any) -> Choices:
    if getattr(args, "answers", None):
        c = Choices.load(args.answers)
    else:
        c = Choices(mode=args._default_mode)
    if args.mode:
        c.mode = args.mode
    if args.init != "auto":
        c.init = args.init
    for attr, name in (("tarball", "tarball"), ("sha256", "sha256"), ("nix_version", "nix_version"),
                       ("profile", "profile"), ("project", "project_dir"), ("demo", "demo_dir")):
        v = getattr(args, attr, None)
        if v:
            setattr(c, name, v)
    if args.components:
        c.components = _split(args.components)
    if args.allow_unfree:
        c.allow_unfree = _split(args.allow_unfree)
    if getattr(args, "skip_readonly", None):
        c.skip_readonly = True
    if c.sha256:
        c.sha256 = c.sha256.lower()
    if getattr(args, "no_profile", False):
        c.build_env = False
    keep = {name for attr, name in (("mode", "mode"), ("tarball", "tarball"), ("sha256", "sha256"),
                                    ("nix_version", "nix_version"), ("profile", "profile"),
                                    ("components", "components"))
            if getattr(args, attr, None)}
    # the project this command runs in (as `onboard envrc` and `onboard shell` find it), then
    # the team config: the same core call as the terminal UI's
    complete(c, keep=keep, team_path=getattr(args, "team_config", None))
    c.validate()
    return c


def choice_error(exc: ChoicesError, out: Any) -> int:
    """Report a choice that cannot be planned. Exit 2 for a bad option or value; 1 when the
    choices are fine but this machine cannot take them (an existing Nix, an id collision...)."""
    from onboard.core.nixinstall.errors import PlanningError

    out.error(str(exc), getattr(exc, "hint", ""))
    return 1 if isinstance(exc, PlanningError) else 2


__all__ = ["add_choice_args", "choices_from_args", "choice_error", "ChoicesError"]
