"""What a plan row or a check means, in two plain sentences (`e` on the Plan and Checks
screens), the Nix words a newcomer meets, and the plan rows as the screens number them.
No textual here."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboard.tui.state import Row

#: action kind -> (what it changes, why)
KINDS: dict[str, tuple[str, str]] = {
    "nix-download": ("It downloads the Nix release (a tarball) into onboard's cache and checks its SHA-256.",
                     "Nix is installed from that exact file, so every machine gets the same bytes."),
    "nix-tree": ("It creates /nix and the folders Nix keeps its packages and state in.",
                 "Nix installs everything under /nix, so it never mixes with the system's own files."),
    "nix-unpack": ("It checks the tarball's SHA-256, then unpacks it next to the store.",
                   "Nothing is unpacked that is not the expected release."),
    "nix-store-paths": ("It moves the release's packages into /nix/store, read-only.",
                        "The store is where Nix keeps every package, each in its own folder."),
    "nix-load-db": ("It registers those packages in Nix's database (load-db: Nix learns what is in its store).",
                    "Nix only trusts store paths its database knows."),
    "nix-profile": ("It makes the Nix profile: a folder of links that puts the `nix` commands on your PATH.",
                    "Your shell finds Nix through it; removing it removes Nix from PATH."),
    "nix-conf-block": ("It adds onboard's lines to Nix's settings file nix.conf, between marker comments.",
                       "They turn on flakes (pinned, reproducible project definitions) and the `nix` command "
                       "the team's profiles use."),
    "nix-rc-block": ("It adds a marked block (lines between two marker comments) to a shell startup file.",
                     "New terminals then find Nix; uninstall removes exactly those lines."),
    "nix-self-test": ("It asks Nix to evaluate or build a tiny derivation (a recipe Nix builds a package "
                      "from), then cleans up.",
                      "It proves Nix works before anything relies on it."),
    "nixpkgs-config": ("It adds the unfree packages you allowed, by name, to ~/.config/nixpkgs/config.nix.",
                       "Unfree means not open source: Nix refuses such packages unless allowed one by one."),
    "group": ("It creates the nixbld group for Nix's build users.", "Daemon mode builds packages as those users."),
    "build-users": ("It creates Nix's build users (no password, no login).",
                    "nix-daemon runs builds as them, isolated from your account."),
    "systemd-units": ("It installs nix-daemon's systemd units and starts the daemon.",
                      "In daemon (multi-user) mode every user talks to Nix through the daemon."),
    "daemon-process": ("It starts nix-daemon itself (there is no systemd here).",
                       "Daemon mode needs the daemon running; onboard stops it on uninstall."),
    "marked-block": ("It adds a marked block (lines between two marker comments) to a file you own.",
                     "Only those lines are onboard's: uninstall removes exactly them, nothing else."),
    "generated-file": ("It writes a file onboard owns whole (its first line says so).",
                       "The file is generated from the team's profile; uninstall removes it."),
    "write-file": ("It writes a file onboard owns whole.", "Uninstall removes it again."),
    "directory": ("It creates a folder.", "Something after it writes there; uninstall removes it if empty."),
    "symlink": ("It creates a symbolic link.", "Tools find what they need through it; uninstall removes it."),
    "jsonc-edit": ("It sets a few keys in an editor's settings file, keeping your comments and other keys.",
                   "The editor then loads the project's environment; uninstall removes only those keys."),
    "direnv-allow": ("It tells direnv that this project's .envrc may run (direnv allow).",
                     "direnv runs no .envrc you have not allowed; this one loads the team's environment."),
    "systemd-user-units": ("It installs and starts user services.", "The profile's services run with them."),
    "command": ("It runs a command (shown in the row).", "Its undo command is recorded for uninstall."),
    "profile-env": ("It runs Nix to build every package of the profile and keeps the result in onboard's "
                    "cache (a GC root keeps Nix from deleting it).",
                    "So `onboard shell` and direnv load the environment at once, instead of building it the "
                    "first time you enter the project."),
}

#: Nix words a newcomer meets, explained where they first appear
GLOSSARY = {
    "derivation": "a recipe Nix builds a package from",
    "load-db": "Nix registering the packages in its store's database",
    "marked block": "lines between two marker comments; only those are onboard's",
    "receipt": "onboard's record of every change it made, with backups, so it can undo them",
    "unfree": "not open source; Nix refuses such packages unless allowed by name",
    "flakes": "Nix's pinned, reproducible project definitions",
    "store": "/nix/store, where Nix keeps every package in its own folder",
    "gc root": "a link that keeps Nix's garbage collector from deleting a package",
}


def kind_of(row: Row) -> str:
    return str(row.get("id", "")).split(":", 1)[0]


def words_in(text: str) -> list[str]:
    low = text.lower()
    return [w for w in GLOSSARY if w in low]


def explain_row(row: Row) -> str:
    """Two plain sentences: what the row changes and why, then the Nix words in it."""
    desc = str(row.get("description", ""))
    if row.get("status") == "note":
        return desc.removeprefix("note: ") + "\nA note changes nothing: it only tells you something."
    what, why = KINDS.get(kind_of(row), (f"It will {desc}.", "It is part of the setup you chose."))
    text = f"{what}\nWhy: {why}"
    if row.get("status") == "already":
        text += "\nThis machine already has it, so it is left as it is."
    paths = [str(p) for p in row.get("paths") or []]
    if paths:
        text += "\nTouches: " + ", ".join(short_path(p) for p in paths)
    words = words_in(desc + " " + what + " " + why)
    if words:
        text += "\n\nWords: " + "; ".join(f"{w}: {GLOSSARY[w]}" for w in words)
    text += "\nEverything here is recorded and `onboard uninstall` undoes it."
    return text


def numbered(rows: list[Row]) -> list[tuple[int, Row]]:
    """(step number, row): notes are not steps and get 0."""
    out, n = [], 0
    for r in rows:
        if r.get("status") == "note":
            out.append((0, r))
        else:
            n += 1
            out.append((n, r))
    return out


def counts(rows: list[Row]) -> tuple[int, int, int]:
    """(to change, already so, notes): one count everywhere; notes are not steps."""
    todo = sum(1 for r in rows if r.get("status") == "would-do")
    already = sum(1 for r in rows if r.get("status") == "already")
    notes = sum(1 for r in rows if r.get("status") == "note")
    return todo, already, notes


def short_path(path: str, width: int = 56) -> str:
    """~ for the home folder, and a long path cut in its middle (`~/.local/…/onboard.log`),
    never at its end."""
    home = os.path.expanduser("~")
    if home and home != "/" and (path == home or path.startswith(home + "/")):
        path = "~" + path[len(home):]
    if len(path) <= width:
        return path
    head, _, tail = path.rpartition("/")
    keep = max(width - len(tail) - 2, 8)
    return (path[:keep].rsplit("/", 1)[0] or path[:keep]) + "/…/" + tail if head else path[:width - 1] + "…"


__all__ = ["KINDS", "GLOSSARY", "explain_row", "numbered", "counts", "short_path", "words_in"]
