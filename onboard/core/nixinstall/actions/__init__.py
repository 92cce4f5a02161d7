"""The actions of a Nix install, one module each.

fetch_tarball (download), nix_tree (/nix), unpack_release, store_paths, load_db, nix_profile,
shell_rc_block, nix_conf_block, nixpkgs_config and self_test; for daemon mode build_group,
build_users, systemd_units and daemon_process. common holds what they share (nix_env,
run_nix, the unpacked release).

Each one records the prior state before it changes anything, so a receipt written at any
point (even by a process killed mid-step) can be resumed or reverted. The modules are
listed in onboard.core.action_kinds; importing this package imports none of them.
"""
