"""Blinker signals, one per audited event, in the library's own namespace.

Each is sent with the app as sender and ``event=`` an
:class:`fides_oauth.audit.AuditEvent`; the same events are logged on the
``fides_oauth.audit`` logger. Subscribe to feed an audit store::

    from fides_oauth import signals

    @signals.client_deleted.connect
    def on_deleted(app, event):
        store(event.as_dict())
"""

from __future__ import annotations

from blinker import NamedSignal
from blinker import Namespace

__all__ = [
    "SIGNALS",
    "admin_signed_in",
    "admin_signed_out",
    "authentication_failed",
    "client_created",
    "client_deleted",
    "client_scopes_changed",
    "client_secret_rotated",
    "client_tokens_revoked",
    "client_updated",
    "signing_key_rotated",
    "token_issued",
    "token_revoked",
]

_namespace = Namespace()

client_created = _namespace.signal("fides_oauth.client_created")
client_updated = _namespace.signal("fides_oauth.client_updated")
client_scopes_changed = _namespace.signal("fides_oauth.client_scopes_changed")
client_secret_rotated = _namespace.signal("fides_oauth.client_secret_rotated")
client_tokens_revoked = _namespace.signal("fides_oauth.client_tokens_revoked")
client_deleted = _namespace.signal("fides_oauth.client_deleted")
token_issued = _namespace.signal("fides_oauth.token_issued")
token_revoked = _namespace.signal("fides_oauth.token_revoked")
authentication_failed = _namespace.signal("fides_oauth.authentication_failed")
admin_signed_in = _namespace.signal("fides_oauth.admin_signed_in")
admin_signed_out = _namespace.signal("fides_oauth.admin_signed_out")
signing_key_rotated = _namespace.signal("fides_oauth.signing_key_rotated")

#: Event name (as logged) -> signal.
SIGNALS: dict[str, NamedSignal] = {
    "client_created": client_created,
    "client_updated": client_updated,
    "client_scopes_changed": client_scopes_changed,
    "client_secret_rotated": client_secret_rotated,
    "client_tokens_revoked": client_tokens_revoked,
    "client_deleted": client_deleted,
    "token_issued": token_issued,
    "token_revoked": token_revoked,
    "authentication_failed": authentication_failed,
    "admin_signed_in": admin_signed_in,
    "admin_signed_out": admin_signed_out,
    "signing_key_rotated": signing_key_rotated,
}
