"""Built-in actions. Importing this package registers every action kind."""

from onboard.core.actions import files  # noqa: F401
from onboard.core.actions import blocks  # noqa: F401
from onboard.core.actions import commands  # noqa: F401
from onboard.core.integrations import actions as _integrations  # noqa: F401
from onboard.core.nixinstall import actions as _nixinstall  # noqa: F401

try:  # modules added by later capabilities register themselves when present
    from onboard.core.actions import system  # noqa: F401
except ImportError:  # pragma: no cover
    pass
