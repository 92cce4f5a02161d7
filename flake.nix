{
  description = "onboard: from a bare machine to your team's pinned Nix dev shell, reversibly";

  # Pinned: flake.lock holds the exact commit and narHash (the same commit as shell.nix).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      # Name, version and dependencies come from pyproject.toml: one place to change them.
      pyproject = (builtins.fromTOML (builtins.readFile ./pyproject.toml)).project;
      upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ];
      lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
      # "PyYAML>=6" -> "pyyaml": the attribute name in python3Packages
      requirementName = req: builtins.replaceStrings upper lower
        (builtins.head (builtins.match "[[:space:]]*([A-Za-z0-9_.-]+).*" req));

      # Only what the package needs: no .venv, tests or caches in the store.
      src = builtins.path {
        name = "onboard-source";
        path = ./.;
        filter = path: type:
          let
            rel = builtins.substring (builtins.stringLength (toString ./.) + 1) (-1) (toString path);
            top = builtins.head (builtins.split "/" rel);
            base = baseNameOf path;
          in
          builtins.elem top [ "pyproject.toml" "README.md" "LICENSE" "onboard" ]
          && base != "__pycache__" && builtins.match ".*\\.py[co]" base == null;
      };

      onboardFor = pkgs:
        let py = pkgs.python3Packages; in
        py.buildPythonApplication {
          pname = pyproject.name;
          inherit (pyproject) version;
          inherit src;
          pyproject = true;
          build-system = [ py.setuptools ];
          # A requirement with a marker (tomli on Python < 3.11) is for older Pythons than
          # the package set's: left out.
          dependencies = map (req: py.${requirementName req})
            (builtins.filter (req: builtins.match ".*;.*" req == null) pyproject.dependencies);
          # The test suite needs real Nix, namespaces and terminals: it runs from the dev shell.
          doCheck = false;
          pythonImportsCheck = [ "onboard" "onboard.cli.main" ];
          meta = {
            description = pyproject.description;
            mainProgram = "onboard";
            license = pkgs.lib.licenses.mit;
          };
        };
    in
    {
      packages = forAllSystems (system:
        let onboard = onboardFor (import nixpkgs { inherit system; }); in
        { default = onboard; inherit onboard; });

      apps = forAllSystems (system: {
        default = {
          type = "app";
          program = "${self.packages.${system}.default}/bin/onboard";
        };
      });

      devShells = forAllSystems (system: {
        default = import ./shell.nix { pkgs = import nixpkgs { inherit system; }; };
      });
    };
}
