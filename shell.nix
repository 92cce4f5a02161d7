# onboard's own development shell, for Nix without flakes:
#
#   nix-shell                 # python3 with onboard's dependencies, the test tools, and the
#                             # checkout on PYTHONPATH: `python -m onboard`, `python -m pytest -n 2`
#
# The package set is pinned to the same nixpkgs commit as flake.lock (tests/test_project_nix.py
# checks that they agree). `nix develop` uses this file too, with the flake's nixpkgs input.
# Pass another package set with `--arg pkgs 'import /path/to/nixpkgs { }'`.
{ pkgs ? import
    (fetchTarball {
      # nixos-25.11, the commit flake.lock pins (its narHash in base32)
      url = "https://github.com/NixOS/nixpkgs/archive/8fd9daa3db09ced9700431c5b7ad0e8ba199b575.tar.gz";
      sha256 = "1i4bkzy1siavmxaskp49lgi9s02gam6crb0d0abbbjmsyl39jbsf";
    })
    { }
}:
let
  # Runtime dependencies (pyproject.toml's [project.dependencies]) and the test extra.
  pythonEnv = pkgs.python3.withPackages (ps: [
    ps.textual
    ps.rich
    ps.pyyaml
    ps.psutil
    ps.requests
    ps.pytest
    ps.pytest-xdist
    ps.pytest-asyncio
    ps.pytest-textual-snapshot
  ]);
in
pkgs.mkShell {
  name = "onboard-dev";
  packages = [
    pythonEnv
    # what the tests drive for real (Nix itself comes from the machine: the tests use its nix)
    pkgs.direnv
    pkgs.zsh
    pkgs.fish
    pkgs.tmux
    pkgs.shellcheck
    pkgs.dash
    pkgs.patchelf
    pkgs.xz
  ];
  ONBOARD_DEV_SHELL = "1";
  shellHook = ''
    if [ -f pyproject.toml ] && [ -f onboard/__init__.py ]; then
      export PYTHONPATH="$PWD''${PYTHONPATH:+:$PYTHONPATH}"
    fi
    echo "onboard dev shell: python -m onboard --help | python -m pytest -n 2 -q" >&2
  '';
}
