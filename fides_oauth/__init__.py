"""fides_oauth: the OAuth 2.0 client-credentials system of the Fides privacy
platform, as an embeddable Flask blueprint."""

from __future__ import annotations

from .decorators import current_client
from .decorators import require_scopes
from .extension import FidesOAuth
from .extension import create_tables
from .extension import drop_tables
from .extension import prune
from .extension import rotate_signing_key
from .models import metadata
from .scopes import BUILTIN_SCOPES
from .tokens import AuthenticatedClient

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_SCOPES",
    "AuthenticatedClient",
    "FidesOAuth",
    "create_tables",
    "current_client",
    "drop_tables",
    "metadata",
    "prune",
    "require_scopes",
    "rotate_signing_key",
]
