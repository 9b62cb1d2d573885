"""The documentation's examples run as written: every Python block of
``docs/*.md`` (except those marked ``<!-- fragment ... -->``) is executed in a
fresh interpreter with its settings in the environment; a block that builds
an app must then issue a token to the root client. The shell quick start is
run by ``.ci/package`` against the installed wheel; the site itself is built
with warnings as errors by ``.ci/run``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fides_oauth.settings import SETTINGS

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(<!-- fragment[^>]*-->\n)?```python\n(.*?)```", re.S)

#: After a block ran: build its app and ask for a root token.
_CHECK = """
import flask
app = globals().get("app")
if app is None and "create_app" in globals():
    app = create_app()
if isinstance(app, flask.Flask):
    state = app.extensions["fides_oauth"]
    response = app.test_client().post(
        state.url_prefix + "/oauth/token",
        data={"client_id": "docs-root", "client_secret": "docs-root-secret-0123456789"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    print("token issued")
"""


#: Client examples talk to the reference host at this address, as a reader
#: running the quick start would; the tests serve it and point them at it.
_SERVER = "http://localhost:5000"


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for index, match in enumerate(_BLOCK.finditer(page.read_text())):
            if match.group(1) is None:
                found.append((f"{page.name}#{index + 1}", match.group(2)))
    return found


BLOCKS = [(w, c) for w, c in _blocks() if _SERVER not in c]
CLIENT_BLOCKS = [(w, c) for w, c in _blocks() if _SERVER in c]


def test_the_docs_have_runnable_examples() -> None:
    assert len(BLOCKS) >= 3, BLOCKS
    assert len(CLIENT_BLOCKS) >= 3, CLIENT_BLOCKS


def _run(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = cwd / "example.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("where", "code"), CLIENT_BLOCKS, ids=[w for w, _ in CLIENT_BLOCKS]
)
def test_a_client_example_works_against_the_server(
    where: str, code: str, make_app: Any, tmp_path: Path
) -> None:
    """The client side, as the pages show it: a secret client (DPoP) or a
    private_key_jwt client whose key is in client-key.pem, against the
    reference host served on a real socket."""
    from joserfc.jwk import ECKey
    from werkzeug.serving import make_server

    from tests.conftest import OAuth
    from tests.servers import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(FIDES_OAUTH_ISSUER=base + "/api/v1", AUTHLIB_INSECURE_TRANSPORT="1")
    oauth = OAuth(app, app.test_client())
    if "client-key.pem" in code:
        key = ECKey.generate_key("P-256", private=True)
        (tmp_path / "client-key.pem").write_bytes(key.as_pem(private=True))
        public = key.as_dict(private=False) | {"kid": "client-key-1"}
        created = oauth.create_client(
            ["policy:read"],
            token_endpoint_auth_method="private_key_jwt",
            jwks={"keys": [public]},
        )
    else:
        created = oauth.create_client(["policy:read"])
    prelude = (
        f"CLIENT_ID = {created['client_id']!r}\n"
        f"CLIENT_SECRET = {created.get('client_secret')!r}\n"
    )
    body = code.replace(_SERVER, base)
    check = "\nassert token['access_token'], token\nprint('token issued')\n"
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = os.environ | {"AUTHLIB_INSECURE_TRANSPORT": "1"}
        done = _run(prelude + body + check, tmp_path, env)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert done.returncode == 0, f"{where}:\n{done.stderr}"
    assert "token issued" in done.stdout


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_a_docs_example_runs(where: str, code: str, tmp_path: Path) -> None:
    env = os.environ | {
        # A file of its own, whatever database the suite runs on: the
        # examples create tables and never drop them.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'docs.sqlite'}",
        "FIDES_OAUTH_ROOT_CLIENT_ID": "docs-root",
        "FIDES_OAUTH_ROOT_CLIENT_SECRET": "docs-root-secret-0123456789",
        "FIDES_OAUTH_KEY_ENCRYPTION_KEY": "d" * 43,
        "FIDES_OAUTH_BCRYPT_ROUNDS": "4",
    }
    done = _run(code + "\n" + _CHECK, tmp_path, env)
    assert done.returncode == 0, f"{where}:\n{done.stderr}"
    if "create_app" in code or "app = Flask" in code:
        assert "token issued" in done.stdout, where


def test_every_setting_is_documented() -> None:
    """The configuration reference is generated from these: none is blank."""
    for setting in SETTINGS:
        assert setting.key.startswith("FIDES_OAUTH_")
        assert len(setting.doc) > 10, setting.key
