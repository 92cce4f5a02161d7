"""The shipped science profile: numpy and scipy from the package set, a locked pure-Python extra."""

from __future__ import annotations

from onboard.core.profiles.loader import load_profile
from onboard.core.python.shellnix import python_nix
from tests.support.standin import ROOT


def test_science_takes_numpy_from_nix_and_locks_its_extra():
    sci = load_profile(str(ROOT / "profiles" / "science.yaml"))
    py = sci.python
    assert py is not None and py.locked and py.lock == str(ROOT / "profiles" / "science" / "uv.lock")
    assert {"numpy", "scipy"} <= set(py.from_nix)
    assert [(c.name, c.version, c.artifact.filename) for c in py.selection.chosen] == [
        ("tabulate", "0.10.0", "tabulate-0.10.0-py3-none-any.whl")]
    text = python_nix(py)
    fetches = [line for line in text.splitlines() if "fetchurl.nix" in line]
    assert "https://files.pythonhosted.org/packages/" in text and not any("numpy" in f for f in fetches)
    # the store-built venv sees the package set's numpy through its .pth file
    assert "${pkgs.python312Packages.numpy}/${pkgs.python312.sitePackages}" in text
