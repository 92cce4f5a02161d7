"""Installing Nix (single-user or daemon mode) as a plan of reversible actions."""
