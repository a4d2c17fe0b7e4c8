"""`warroom user deactivate|reactivate|password|reset-link`, `warroom token list|revoke`
and `warroom audit`, run against a served warroom as an admin would at 3am."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import Run, cli  # noqa: F401  (fixture)


def test_token_list_and_revoke_and_the_audit_trail(cli: Run) -> None:  # noqa: F811
    rows = json.loads(cli("token", "list", "--json", token="admin").output)
    bob = next(t for t in rows if t["user"] == "bob")
    assert "token" not in bob
    out = cli("token", "list", token="admin").output
    assert "bob" in out and "responder" in out
    # alice sees only her own tokens
    assert {t["user"] for t in json.loads(cli("token", "list", "--json").output)} == {"alice"}
    r = cli("token", "revoke", str(bob["id"]), ok=False)  # not hers
    assert r.exit_code != 0 and "no token" in r.output
    assert (
        f"Token {bob['id']} revoked" in cli("token", "revoke", str(bob["id"]), token="admin").output
    )
    r = cli("incident", "list", token="bob", ok=False)
    assert r.exit_code != 0 and "HTTP 401" in r.output
    log = json.loads(cli("audit", "--json", "--action", "token.revoked", token="admin").output)
    assert [(e["actor"], e["target"]) for e in log] == [("admin", f"token {bob['id']}")]


def test_deactivate_reactivate_password_and_reset_link(cli: Run) -> None:  # noqa: F811
    assert "bob is deactivated" in cli("user", "deactivate", "bob", token="admin").output
    assert cli("incident", "list", token="bob", ok=False).exit_code != 0
    assert "bob is active" in cli("user", "reactivate", "bob", token="admin").output
    assert cli("incident", "list", token="bob").exit_code == 0
    r = cli("user", "deactivate", "bob", ok=False)  # alice is no admin
    assert r.exit_code != 0 and "admin role" in r.output
    r = cli("user", "password", "alice", input="a fine password\n")
    assert "Password of alice set" in r.output
    r = cli("user", "password", "alice", "--password", "short", ok=False)
    assert r.exit_code != 0 and "at least 8 characters" in r.output
    link = json.loads(cli("user", "reset-link", "bob", "--json", token="admin").output)
    assert "/password/reset/" in link["url"] and link["expires_at"]
    actions = [e["action"] for e in json.loads(cli("audit", "--json", token="admin").output)]
    assert actions[:4] == [
        "user.reset_link",
        "user.password_set",
        "user.reactivated",
        "user.deactivated",
    ]


def test_store_commands_name_the_store_and_never_make_one_by_accident(
    cli: Run,  # noqa: F811
    tmp_path: Path,
    store_url: str,
) -> None:
    missing = tmp_path / "elsewhere" / "warroom.db"
    url = f"sqlite:///{missing}"
    r = cli("token", "create", "--role", "admin", WARROOM_DATABASE_URL=url, ok=False)
    assert "there is no warroom store at" in r.stderr and "--create" in r.stderr
    assert not missing.exists() and not missing.parent.exists()
    r = cli("token", "create", "--role", "admin", "--json", WARROOM_DATABASE_URL=store_url)
    assert json.loads(r.stdout)["role"] == "admin"  # stdout stays machine-readable
    assert f"warroom store: {store_url}" in r.stderr  # (no password in the test stores)
    missing.parent.mkdir()
    r = cli("token", "create", "--role", "admin", "--create", WARROOM_DATABASE_URL=url)
    assert missing.exists() and r.stdout.strip().startswith("wr_")


def test_serve_refuses_a_malformed_outbound_allow_list(cli: Run) -> None:  # noqa: F811
    r = cli("serve", "--port", "1", WARROOM_OUTBOUND_ALLOW="10.0.0.0/99", ok=False)
    assert "WARROOM_OUTBOUND_ALLOW" in r.stderr and "is not a network" in r.stderr
