"""onboard: from a bare machine to the team's pinned Nix dev shell, reversibly.

This module stays tiny: it is imported on every warm path (`onboard shell`, the
direnv loader, `--version`), so it must not import anything heavy.
"""

__version__ = "0.1.0"
