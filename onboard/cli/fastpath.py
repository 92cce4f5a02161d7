"""Warm paths that must not import argparse or anything heavy."""

from __future__ import annotations

from typing import Optional


def shell_fast(argv: list[str]) -> Optional[int]:
    """Enter a profile's shell from a fresh cache without Nix; None means take the slow path."""
    return None
