"""Python packages from a hashed lock: read it, choose for one interpreter and platform,
and say what Nix fetches and what uv installs.

- lockfile.read_lock(path, kind): uv.lock (`python.lock`) or a hashed requirements file
  (`python.requirements`) as a `Lock`, or problems at file:line;
- index.locate_artifacts(lock): a requirements file's download URLs, from its index;
- select.select(lock, target, extras, groups): one artifact per needed package (`Selection`);
- nixexpr: `nix_expression`, `requirements_text`, `lock_identity` for the renderer and the shell;
- uvrun: `uv lock` for `onboard lock`, and the version changes it made;
- native: the sdists built in Nix (python.build_systems) and the wheels whose native code is
  patched to find `python.libraries`; nativebuild: the builder that does it inside Nix;
- storeenv: the venv built in the store (`packages.<system>.python-env`, `onboard shell --hermetic`).

The model is described in docs/python.md. Importing this package imports nothing heavy.
"""

from onboard.core.python.lockfile import read_lock
from onboard.core.python.model import Artifact, Dependency, Lock, Package
from onboard.core.python.nixexpr import lock_identity, nix_expression, requirements_text
from onboard.core.python.select import Chosen, Selection, select
from onboard.core.python.tags import Target

__all__ = ["read_lock", "Artifact", "Dependency", "Lock", "Package", "Target", "Chosen", "Selection", "select",
           "nix_expression", "requirements_text", "lock_identity"]
