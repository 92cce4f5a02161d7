"""What `onboard uninstall` removes of the profile capability: every cached environment
(with its GC roots), every project's generations (with theirs) and `active` file, and
Nix's registrations of those roots. Nothing is left behind."""

from __future__ import annotations

import os
import shutil

from onboard.core.profiles import cache, generations


def _remove_envs() -> None:
    root = cache.envs_root()
    generations.forget_auto_roots([root])
    shutil.rmtree(root, ignore_errors=True)
    _prune(cache.cache_root())


def _remove_projects() -> None:
    root = generations.projects_root()
    generations.forget_auto_roots([root])
    from onboard.core.services.cleanup import remove_projects_keeping_data

    remove_projects_keeping_data(root)  # services' data goes only with `uninstall --delete-data`
    _prune(cache.state_root())


def _prune(directory: str) -> None:
    try:
        os.rmdir(directory)  # only when empty: other parts of onboard may still use it
    except OSError:
        pass


def cleanup_items() -> list:
    from onboard.core.uninstall import CleanupItem

    items = []
    envs = cache.envs_root()
    if os.path.isdir(envs):
        names = sorted({name for _owner, name, _d in cache.env_dirs()})
        items.append(CleanupItem(
            description=f"remove the cached shell environments and their GC roots ({', '.join(names) or 'none'})",
            paths=[envs], remove=_remove_envs))
    projects = generations.projects_root()
    if os.path.isdir(projects):
        listed = generations.projects()
        items.append(CleanupItem(
            description=f"remove the profile generations and GC roots of {len(listed)} project(s)",
            paths=[projects] + listed, remove=_remove_projects))
    return items
