"""Widgets shared by onboard's screens."""
