"""``flask fides-oauth ...`` through Flask's CliRunner."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from tests.conftest import OAuth
from tests.conftest import bearer


def _run(app: Flask, *args: str, input: str | None = None) -> Any:
    return app.test_cli_runner().invoke(args=["fides-oauth", *args], input=input)


def _created(output: str) -> tuple[str, str]:
    lines = dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)
    return lines["client_id"], lines["client_secret"]


def test_create_client_prints_id_and_secret_that_work(app: Flask) -> None:
    result = _run(app, "create-client", "--scope", "policy:read", "--name", "etl")
    assert result.exit_code == 0, result.output
    client_id, secret = _created(result.output)
    oauth = OAuth(app, app.test_client())
    token = oauth.token(client_id, secret)
    assert oauth.http.get("/api/v1/policy", headers=bearer(token)).status_code == 200


def test_list_and_show_never_print_a_secret(app: Flask) -> None:
    _, secret = _created(_run(app, "create-client", "--scope", "rule:read").output)
    table = _run(app, "list-clients")
    assert table.exit_code == 0
    as_json = _run(app, "list-clients", "--json")
    items = json.loads(as_json.output)
    assert [item["scopes"] for item in items] == [["rule:read"]]
    shown = _run(app, "show-client", items[0]["client_id"])
    assert json.loads(shown.output)["client_id"] == items[0]["client_id"]
    for output in (table.output, as_json.output, shown.output):
        assert secret not in output
        assert "$2b$" not in output
    assert items[0]["client_id"] in table.output


def test_set_scopes_rotate_revoke_delete(app: Flask) -> None:
    oauth = OAuth(app, app.test_client())
    client_id, secret = _created(
        _run(app, "create-client", "--scope", "rule:read").output
    )
    headers = bearer(oauth.token(client_id, secret))

    assert _run(app, "set-scopes", client_id, "policy:read", "rule:read").exit_code == 0
    assert oauth.http.get("/api/v1/policy", headers=headers).status_code == 403

    rotated = _run(app, "rotate-secret", client_id, "--grace-seconds", "60")
    assert rotated.exit_code == 0
    _, new_secret = _created(rotated.output)
    assert "previous secret valid until" in rotated.output
    assert oauth.token(client_id, secret) and oauth.token(client_id, new_secret)

    assert _run(app, "revoke-tokens", client_id).exit_code == 0
    assert oauth.http.get("/api/v1/rule", headers=headers).status_code == 401

    refused = _run(app, "delete-client", client_id, input="n\n")
    assert refused.exit_code != 0
    assert _run(app, "show-client", client_id).exit_code == 0
    assert _run(app, "delete-client", client_id, "--yes").exit_code == 0
    assert _run(app, "show-client", client_id).exit_code != 0


def test_scopes_lists_the_registry(app: Flask) -> None:
    result = _run(app, "scopes")
    assert result.output.split() == sorted(result.output.split())
    assert "client:create" in result.output.split()
    assert "policy:read" in result.output.split()


def test_token_reads_the_secret_from_stdin(make_app: Any) -> None:
    app = make_app(FIDES_OAUTH_ISSUER="http://localhost/api/v1")
    client_id, secret = _created(
        _run(app, "create-client", "--scope", "rule:read").output
    )
    result = _run(app, "token", client_id, input=secret + "\n")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    response = app.test_client().get("/api/v1/rule", headers=bearer(token))
    assert response.status_code == 200
    wrong = _run(app, "token", client_id, input="wrong\n")
    assert wrong.exit_code != 0
    assert "invalid_client" in wrong.output


@pytest.mark.parametrize("nonces", [False, True])
def test_token_with_a_dpop_key_is_bound_to_it(
    make_app: Any, tmp_path: Any, nonces: bool
) -> None:
    """``token --dpop-key key.pem`` mints a DPoP token usable only with
    proofs by that key (checked with PyJWT-made proofs), nonces or not."""
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization

    from tests.conftest import Prover
    from tests.conftest import dpop

    app = make_app(
        FIDES_OAUTH_ISSUER="https://api.example.com/api/v1",
        FIDES_OAUTH_DPOP_REQUIRE_NONCE=nonces,
    )
    client_id, secret = _created(
        _run(app, "create-client", "--scope", "rule:read").output
    )
    prover = Prover()
    pem = tmp_path / "dpop.pem"
    pem.write_bytes(
        prover.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = _run(app, "token", client_id, "--dpop-key", str(pem), input=secret + "\n")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    http = app.test_client()
    url = "https://api.example.com/api/v1/rule"
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": prover.jkt}
    if nonces:
        return  # the route's own nonce dance is test_dpop_nonce's
    proof = prover.proof("GET", url, token=token)
    assert http.get("/api/v1/rule", headers=dpop(token, proof)).status_code == 200
    assert http.get("/api/v1/rule", headers=bearer(token)).status_code == 401
    thief = Prover().proof("GET", url, token=token)
    assert http.get("/api/v1/rule", headers=dpop(token, thief)).status_code == 401


def test_token_with_an_unusable_dpop_key_says_so(make_app: Any, tmp_path: Any) -> None:
    app = make_app(FIDES_OAUTH_ISSUER="https://api.example.com/api/v1")
    bad = tmp_path / "not-a-key.pem"
    bad.write_text("not a key")
    result = _run(app, "token", "whatever", "--dpop-key", str(bad), input="x\n")
    assert result.exit_code != 0
    assert "--dpop-key" in result.output
    assert "Traceback" not in result.output


def test_token_needs_an_issuer(app: Flask) -> None:
    result = _run(app, "token", "whatever", input="secret\n")
    assert result.exit_code != 0
    assert "FIDES_OAUTH_ISSUER" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["create-client", "--scope", "no:such"],
        ["create-client", "--scope", "rule:read", "--name", "x" * 300],
        ["show-client", "0" * 32],
        ["show-client", "root-client-for-tests"],
        ["set-scopes", "0" * 32, "rule:read"],
        ["rotate-secret", "0" * 32],
        ["rotate-secret", "0" * 32, "--grace-seconds", "-5"],
        ["revoke-tokens", "not-an-id"],
        ["delete-client", "0" * 32, "--yes"],
        ["create-client"],
        ["create-client", "--name", "no scopes said"],
        ["create-client", "--scope", "rule:read", "--no-scopes"],
        ["rotate-secret", "root-client-for-tests"],
        ["set-scopes", "root-client-for-tests", "rule:read"],
        ["delete-client", "root-client-for-tests", "--yes"],
        ["db", "upgrade", "nonsense"],
        ["db", "downgrade", "nonsense"],
    ],
)
def test_bad_input_exits_non_zero_with_one_line(app: Flask, args: list[str]) -> None:
    oauth = OAuth(app, app.test_client())
    before = oauth.snapshot()
    result = _run(app, *args)
    _one_line_failure(result)
    assert oauth.snapshot() == before


def _one_line_failure(result: Any) -> str:
    """A failure as a user sees it: a non-zero exit and one line, with no
    exception escaping the command (CliRunner would hide its traceback)."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.strip().splitlines() if line]
    if result.exit_code == 2:  # Click's usage error: usage, hint, the error
        lines = lines[-1:]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_unknown_scopes_point_to_the_scopes_command(app: Flask) -> None:
    line = _one_line_failure(_run(app, "create-client", "--scope", "no:such"))
    assert "no:such" in line
    assert "`flask fides-oauth scopes`" in line
    line = _one_line_failure(_run(app, "create-client"))
    assert "`flask fides-oauth scopes`" in line
    assert "--no-scopes" in line


def test_rotating_the_root_secret_explains_where_it_lives(app: Flask) -> None:
    line = _one_line_failure(_run(app, "rotate-secret", "root-client-for-tests"))
    assert "FIDES_OAUTH_ROOT_CLIENT_SECRET" in line
    assert "revoke-tokens" in line


def test_an_unknown_revision_says_what_revisions_exist(app: Flask) -> None:
    line = _one_line_failure(_run(app, "db", "upgrade", "nonsense"))
    assert "nonsense" in line
    assert '"head"' in line


def test_create_client_json_and_no_scopes(app: Flask) -> None:
    result = _run(app, "create-client", "--no-scopes", "--json", "--name", "bare")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert set(created) == {"client_id", "client_secret"}
    oauth = OAuth(app, app.test_client())
    token = oauth.token(created["client_id"], created["client_secret"])
    stored = oauth.http.get(
        f"/api/v1/oauth/client/{created['client_id']}", headers=oauth.root_headers()
    ).get_json()
    assert stored["scopes"] == []
    assert token


def test_every_command_and_option_has_help(app: Flask) -> None:
    import click

    from fides_oauth.cli import COMMANDS

    group = app.cli.commands["fides-oauth"]
    assert group.help
    stack: list[click.Command] = list(COMMANDS)
    while stack:
        command = stack.pop()
        assert command.help, command.name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.opts}"
        if isinstance(command, click.Group):
            stack.extend(command.commands.values())


@pytest.mark.parametrize(
    "base_url", ["https://api.example.com", "https://api.example.com/api/v1/"]
)
def test_token_base_url_with_or_without_the_prefix(
    make_app: Any, base_url: str
) -> None:
    """The same issuer either way, so the token works on that server."""
    import jwt as pyjwt

    app = make_app()
    client_id, secret = _created(
        _run(app, "create-client", "--scope", "rule:read").output
    )
    result = _run(app, "token", client_id, "--base-url", base_url, input=secret + "\n")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "https://api.example.com/api/v1"
    served = app.test_client().get(
        "/api/v1/rule", headers=bearer(token), base_url="https://api.example.com"
    )
    assert served.status_code == 200


@pytest.mark.parametrize(
    ("base_url", "said"),
    [
        ("http://api.internal:5000", "plain http"),
        ("api.example.com", "not an http(s) URL"),
        ("https://[::1", "not an http(s) URL"),
        ("https://api.example.com:99999", "not an http(s) URL"),
        ("https://user:pass@api.example.com", "without credentials"),
    ],
)
def test_token_base_url_refusals_are_one_line(
    app: Flask, base_url: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    result = _run(app, "token", "whatever", "--base-url", base_url, input="x\n")
    assert said in _one_line_failure(result)


def test_an_unexpected_failure_is_one_line_too(app: Flask) -> None:
    """Bytes that are not UTF-8 on stdin fail inside the command: one line
    naming the failure, and how to see its traceback."""
    result = app.test_cli_runner().invoke(
        args=["fides-oauth", "token", "x", "--base-url", "https://a.example"],
        input=b"\xff\xfe\n",
    )
    line = _one_line_failure(result)
    assert "FIDES_OAUTH_CLI_TRACEBACK=1" in line


def test_create_a_private_key_jwt_client(app: Any, tmp_path: Any) -> None:
    import json

    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False) | {"kid": "k1"}]}))
    result = app.test_cli_runner().invoke(
        args=[
            "fides-oauth",
            "create-client",
            "--scope",
            "policy:read",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            str(path),
            "--token-lifetime",
            "300",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "client_secret" not in result.output
    client_id = result.output.split("client_id: ")[1].split()[0]
    shown = app.test_cli_runner().invoke(args=["fides-oauth", "show-client", client_id])
    body = json.loads(shown.output)
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["access_token_lifetime"] == 300
    assert body["jwks"]["keys"][0]["kid"] == "k1"
    # Private key material is refused, in one line.
    path.write_text(json.dumps({"keys": [key.as_dict(private=True) | {"kid": "k2"}]}))
    refused = app.test_cli_runner().invoke(
        args=[
            "fides-oauth",
            "create-client",
            "--no-scopes",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            str(path),
        ]
    )
    assert refused.exit_code != 0
    assert "private key material" in refused.output
    assert "Traceback" not in refused.output
