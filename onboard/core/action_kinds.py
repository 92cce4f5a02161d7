"""Every module that defines action kinds, in one list.

Importing this module imports them all, and each registers its Action classes with the
engine (onboard.core.engine.kinds). The engine never imports this list: it knows no
capability. onboard/core/__init__.py hands it `load` as the kind loader, which the engine
calls the first time a receipt names a kind it has not seen. A new action module is added
here, and tests/test_action_contract.py then requires an example of each of its kinds.
"""

from __future__ import annotations

from types import ModuleType

from onboard.core.actions import blocks, commands, files
from onboard.core.integrations.actions import direnv_allow, generated_file, jsonc_edit, plan_note, systemd_user_units
from onboard.core.profiles import env_step
from onboard.core.nixinstall.actions import (build_group, build_users, daemon_process, fetch_tarball, load_db,
                                             nix_conf_block, nix_profile, nix_tree, nixpkgs_config, self_test,
                                             shell_rc_block, store_paths, systemd_units, unpack_release)

MODULES: tuple[ModuleType, ...] = (
    # generic
    files, blocks, commands,
    # installing Nix
    fetch_tarball, nix_tree, unpack_release, store_paths, load_db, nix_profile, shell_rc_block,
    nix_conf_block, nixpkgs_config, self_test, build_group, build_users, systemd_units, daemon_process,
    # shell, direnv and editor integration
    jsonc_edit, generated_file, direnv_allow, systemd_user_units, plan_note,
    # the profile's environment
    env_step,
)


def load() -> None:
    """The kind loader: nothing left to do, importing this module registered every kind."""
