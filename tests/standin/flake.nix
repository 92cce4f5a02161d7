{
  description = "A stand-in for nixpkgs: mkShell and a few packages built from host tools (tests only)";

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      lib = import ./lib.nix;
      legacyPackages = forAll (system: import ./default.nix { inherit system; });
    };
}
