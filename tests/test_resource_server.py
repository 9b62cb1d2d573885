"""A resource server in another process verifies tokens from the JWK Set alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import OAuth

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "resource_server.py"

# Runs the example's verifier with only joserfc and the standard library: the
# child process fails if anything imports fides_oauth.
CHILD = """
import json, runpy, sys
sys.modules["fides_oauth"] = None  # any import of it now raises
module = runpy.run_path(sys.argv[1])
verifier = module["TokenVerifier"](sys.argv[2])
results = []
for token in sys.argv[3:]:
    try:
        results.append(verifier.verify(token, ("policy:read",))["client_id"])
    except ValueError as exc:
        results.append("refused: " + str(exc))
print(json.dumps(results))
"""


def test_tokens_verify_in_another_process_with_joserfc_alone(
    oauth: OAuth, live_server: str
) -> None:
    client_id, _, headers = oauth.client_with(["policy:read"])
    good = headers["Authorization"].split()[1]
    _, _, weak = oauth.client_with(["rule:read"])
    tampered = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    issuer = live_server + "/api/v1"
    # The tokens were issued by the test client for http://localhost: ask the
    # live server for tokens whose issuer is its own URL.
    import requests

    def live_token(cid: str, secret: str) -> str:
        response = requests.post(
            issuer + "/oauth/token",
            data={"client_id": cid, "client_secret": secret},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    created = oauth.create_client(["policy:read"])
    weak_created = oauth.create_client(["rule:read"])
    live_good = live_token(created["client_id"], created["client_secret"])
    live_weak = live_token(weak_created["client_id"], weak_created["client_secret"])
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(EXAMPLE),
            issuer,
            live_good,
            live_weak,
            tampered,
            good,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    verdicts = json.loads(result.stdout)
    assert verdicts[0] == created["client_id"]
    assert verdicts[1] == "refused: missing scopes: policy:read"
    assert verdicts[2].startswith("refused:")
    assert verdicts[3].startswith("refused: claims refused")  # issuer http://localhost
    assert client_id and weak


def test_the_example_runs_as_a_script(oauth: OAuth, live_server: str) -> None:
    import requests

    created = oauth.create_client(["policy:read"])
    token = requests.post(
        live_server + "/api/v1/oauth/token",
        data={
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
        timeout=10,
    ).json()["access_token"]
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), live_server + "/api/v1", token],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["claims"]["client_id"] == created["client_id"]
