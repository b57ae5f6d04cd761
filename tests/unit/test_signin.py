"""Who is asking: web sign-in (chatbot.signin) in local, proxy and token
mode, the sign-in middleware in front of the API (chatbot.channels.web_auth),
and the Slack and Teams directory (chatbot.directory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from chatbot.access import Audience, Principal, Roles
from chatbot.access_cli import main as access_cli
from chatbot.adapters.sqlite_audit import SqliteAuditStore
from chatbot.assistant import Assistant
from chatbot.audit import AuditStore
from chatbot.channels.api import create_app
from chatbot.channels.web_auth import WebAccess, request_headers, resolve
from chatbot.directory import ChatDirectory
from chatbot.domain import EVERYONE
from chatbot.errors import ConfigurationError
from chatbot.settings import AuthSettings
from chatbot.signin import (
    LOCAL_ID,
    SignIn,
    SignInDenied,
    TokenEntry,
    hash_token,
    load_tokens,
    new_token,
    require_safe_bind,
)
from tests.builders import IN_CORPUS, IN_CORPUS_REPLY, LOOPBACK, STATUS, assistant_with

PROXIES = ["10.0.0.5", "10.1.0.0/24"]


def denied(signin: SignIn, peer: str | None, headers: dict[str, str]) -> SignInDenied:
    with pytest.raises(SignInDenied) as raised:
        signin.principal(peer, headers)
    return raised.value


# -- local mode -----------------------------------------------------------------------


def test_local_mode_serves_the_loopback_peer_as_the_local_principal() -> None:
    signin = SignIn(AuthSettings(), local_groups=["boundary-admins"])
    assert signin.mode == "local"
    for peer in ("127.0.0.1", "::1"):
        principal = signin.principal(peer, {})
        assert principal == signin.local_principal
        assert principal.id == LOCAL_ID and principal.via == "local"
        assert principal.groups == frozenset({EVERYONE, "boundary-admins"})


@pytest.mark.parametrize("peer", ["192.168.1.20", "10.0.0.5", "testclient", None])
def test_local_mode_denies_any_other_peer(peer: str | None) -> None:
    refused = denied(SignIn(AuthSettings()), peer, {})
    assert refused.status == 403 and "local mode serves 127.0.0.1 only" in refused.reason


def test_identity_headers_are_untrusted_when_no_proxy_is_configured() -> None:
    signin = SignIn(AuthSettings())
    refused = denied(
        signin, "127.0.0.1", {"x-forwarded-user": "mallory", "x-forwarded-groups": "board"}
    )
    assert refused.status == 403 and "untrusted address 127.0.0.1" in refused.reason
    assert refused.claimed == "mallory"
    # A groups header alone is an identity claim too.
    assert denied(signin, "127.0.0.1", {"x-forwarded-groups": "board"}).status == 403


def test_require_safe_bind_refuses_a_public_interface_in_local_mode() -> None:
    local = SignIn(AuthSettings())
    with pytest.raises(ConfigurationError, match=r"refusing to listen on 0\.0\.0\.0"):
        require_safe_bind(local, "0.0.0.0")
    require_safe_bind(local, "127.0.0.1")  # raises nothing
    require_safe_bind(local, "localhost")


def test_require_safe_bind_allows_a_public_interface_behind_a_proxy() -> None:
    behind_proxy = SignIn(AuthSettings(trusted_proxies=PROXIES))
    assert behind_proxy.mode == "sso"
    require_safe_bind(behind_proxy, "0.0.0.0")  # raises nothing


def test_a_bad_proxy_address_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        SignIn(AuthSettings(trusted_proxies=["10.0.0.300"]))


# -- proxy mode -----------------------------------------------------------------------


@pytest.fixture
def proxy() -> SignIn:
    return SignIn(AuthSettings(trusted_proxies=PROXIES))


def sso(user: str, groups: str | None = None) -> dict[str, str]:
    headers = {"x-forwarded-user": user}
    if groups is not None:
        headers["x-forwarded-groups"] = groups
    return headers


def test_a_trusted_proxy_signs_the_user_in_with_their_groups(proxy: SignIn) -> None:
    principal = proxy.principal("10.0.0.5", sso("alice@bank.example", "credit-risk, board"))
    assert principal == Principal(
        "alice@bank.example", frozenset({EVERYONE, "credit-risk", "board"}), "proxy"
    )


def test_a_proxy_inside_a_trusted_range_is_trusted(proxy: SignIn) -> None:
    principal = proxy.principal("10.1.0.77", sso("bob", "staff"))
    assert principal.id == "bob" and principal.member_of("staff")
    refused = denied(proxy, "10.1.1.77", sso("bob", "staff"))  # just outside the /24
    assert refused.status == 403


def test_the_same_headers_from_an_untrusted_address_are_denied(proxy: SignIn) -> None:
    refused = denied(proxy, "10.9.9.9", sso("alice@bank.example", "board"))
    assert refused.status == 403
    assert "untrusted address 10.9.9.9" in refused.reason
    assert refused.claimed == "alice@bank.example"


def test_a_trusted_proxy_that_sends_no_user_is_denied_401(proxy: SignIn) -> None:
    assert denied(proxy, "10.0.0.5", {"x-forwarded-groups": "board"}).status == 401
    assert denied(proxy, "10.0.0.5", sso("   ", "board")).status == 401
    nothing = denied(proxy, "10.0.0.5", {})
    assert nothing.status == 401 and "no identity" in nothing.reason


def test_a_request_with_no_identity_from_elsewhere_is_told_to_sign_in(proxy: SignIn) -> None:
    refused = denied(proxy, "127.0.0.1", {})
    assert refused.status == 401 and "not signed in" in refused.reason


def test_invalid_group_names_from_the_proxy_are_dropped(proxy: SignIn) -> None:
    principal = proxy.principal("10.0.0.5", sso("carol", "staff,a b,,board\x01,risk"))
    assert principal.groups == frozenset({EVERYONE, "staff", "risk"})


def test_a_user_with_no_groups_header_holds_only_everyone(proxy: SignIn) -> None:
    assert proxy.principal("10.0.0.5", sso("dave")).groups == frozenset({EVERYONE})


def test_custom_identity_headers_and_separator_are_used() -> None:
    signin = SignIn(
        AuthSettings(
            trusted_proxies=["10.0.0.5"],
            user_header="X-Auth-Request-Email",
            groups_header="X-Auth-Request-Groups",
            groups_separator=";",
        )
    )
    headers = {"x-auth-request-email": "erin@bank.example", "x-auth-request-groups": "a;b"}
    principal = signin.principal("10.0.0.5", headers)
    assert principal.id == "erin@bank.example"
    assert principal.groups == frozenset({EVERYONE, "a", "b"})
    # The default header names mean nothing under these settings.
    assert denied(signin, "10.0.0.5", sso("mallory", "board")).status == 401


# -- tokens ---------------------------------------------------------------------------


def tokens_file(tmp_path: Path, token: str, principal: str = "risk-dashboard") -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(
        f'[[tokens]]\nsha256 = "{hash_token(token)}"\nprincipal = "{principal}"\n'
        'groups = ["credit-risk", "staff"]\n',
        encoding="utf-8",
    )
    return path


def test_new_tokens_are_random_and_hash_to_sha256_hex() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("bdy_") and len(first) > 40
    digest = hash_token(first)
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert hash_token(first) == digest != hash_token(second)


def test_a_tokens_file_is_loaded(tmp_path: Path) -> None:
    token = new_token()
    (entry,) = load_tokens(tokens_file(tmp_path, token))
    assert entry.digest == hash_token(token)
    assert entry.principal == "risk-dashboard" and entry.groups == ("credit-risk", "staff")


def test_a_bearer_token_signs_in_as_its_principal(tmp_path: Path) -> None:
    token = new_token()
    signin = SignIn(AuthSettings(tokens_file=tokens_file(tmp_path, token)))
    assert signin.mode == "sso"
    principal = signin.principal("203.0.113.9", {"authorization": f"Bearer {token}"})
    assert principal == Principal(
        "token:risk-dashboard", frozenset({EVERYONE, "credit-risk", "staff"}), "token"
    )
    assert signin.principal(None, {"authorization": f"bearer  {token} "}) == principal


def test_the_proxys_identity_wins_over_a_forwarded_authorization_header(tmp_path: Path) -> None:
    signin = SignIn(
        AuthSettings(trusted_proxies=PROXIES, tokens_file=tokens_file(tmp_path, new_token()))
    )
    headers = {"authorization": f"Bearer {new_token()}", **sso("alice", "board")}
    # oauth2-proxy may pass its own id token along: the trusted proxy's headers decide.
    assert signin.principal("10.0.0.5", headers).id == "alice"
    # From anywhere else, the unknown token is what counts, and it is refused.
    refused = denied(signin, "10.9.9.9", headers)
    assert refused.status == 401 and "unknown bearer token" in refused.reason


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwdw==", "Bearer ", "Bearer"])
def test_a_malformed_authorization_header_is_denied(tmp_path: Path, authorization: str) -> None:
    signin = SignIn(AuthSettings(tokens_file=tokens_file(tmp_path, new_token())))
    refused = denied(signin, "127.0.0.1", {"authorization": authorization})
    assert refused.status == 401 and "malformed" in refused.reason


def test_tokens_can_be_given_directly_without_a_file() -> None:
    token = new_token()
    signin = SignIn(AuthSettings(), tokens=(TokenEntry(hash_token(token), "svc", ()),))
    assert signin.mode == "sso"
    principal = signin.principal(None, {"authorization": f"Bearer {token}"})
    assert principal.id == "token:svc" and principal.groups == frozenset({EVERYONE})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[tokens]\n", "Fix the TOML syntax"),
        ('[[keys]]\nsha256 = "x"\n', "only [[tokens]] tables"),
        ('tokens = "abc"\n', "only [[tokens]] tables"),
        (
            '[[tokens]]\nsha256 = "' + "a" * 64 + '"\nprincipal = "p"\ntoken = "raw"\n',
            "token 1: keys are sha256, principal and groups",
        ),
        ('[[tokens]]\nsha256 = "abc"\nprincipal = "p"\n', "token 1: sha256 must be 64 hex"),
        (
            '[[tokens]]\nsha256 = "' + "g" * 64 + '"\nprincipal = "p"\n',
            "token 1: sha256 must be 64 hex",
        ),
        ('[[tokens]]\nsha256 = "' + "a" * 64 + '"\n', "token 1: principal must name"),
        (
            '[[tokens]]\nsha256 = "' + "a" * 64 + '"\nprincipal = "p"\ngroups = "staff"\n',
            "token 1: groups must be a list",
        ),
        (
            '[[tokens]]\nsha256 = "' + "b" * 64 + '"\nprincipal = "p"\n\n'
            '[[tokens]]\nsha256 = "' + "a" * 64 + '"\nprincipal = "q"\ngroups = ["a b"]\n',
            "token 2: groups must be a list",
        ),
    ],
    ids=[
        "toml-syntax",
        "unknown-table",
        "tokens-not-tables",
        "unknown-key",
        "short-digest",
        "non-hex-digest",
        "no-principal",
        "non-list-groups",
        "bad-group-name",
    ],
)
def test_a_malformed_tokens_file_is_a_configuration_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"tokens\.toml") as raised:
        SignIn(AuthSettings(tokens_file=path))
    assert expected in str(raised.value)


def test_a_missing_tokens_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_tokens(tmp_path / "absent.toml")


def test_the_token_command_stores_only_the_hash(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        access_cli, ["token", "--principal", "risk-dashboard", "--groups", "credit-risk"]
    )
    assert result.exit_code == 0, result.output
    token = result.stderr.rsplit(":", 1)[1].strip()
    assert token.startswith("bdy_")
    entry = result.stdout
    assert token not in entry and hash_token(token) in entry
    path = tmp_path / "tokens.toml"
    path.write_text(entry, encoding="utf-8")
    assert token not in path.read_text(encoding="utf-8")
    signin = SignIn(AuthSettings(tokens_file=path))
    principal = signin.principal(None, {"authorization": f"Bearer {token}"})
    assert principal.id == "token:risk-dashboard" and principal.member_of("credit-risk")


def test_the_token_command_refuses_bad_group_names() -> None:
    result = CliRunner().invoke(access_cli, ["token", "--principal", "p", "--groups", "a b"])
    assert result.exit_code != 0 and "not group names" in result.output


# -- the middleware -------------------------------------------------------------------


def test_request_headers_lower_cases_names_and_marks_repeats() -> None:
    headers = request_headers(
        [(b"X-Forwarded-User", b"a"), (b"Host", b"x"), (b"x-forwarded-user", b"b")]
    )
    assert headers == {"x-forwarded-user": "a\x00b", "host": "x"}


def test_resolve_refuses_a_repeated_identity_header(proxy: SignIn) -> None:
    headers = request_headers([(b"X-Forwarded-User", b"alice"), (b"X-Forwarded-User", b"root")])
    with pytest.raises(SignInDenied, match="more than once"):
        resolve(proxy, "10.0.0.5", headers)


ROLES = Roles("boundary-admins", "boundary-auditors")
AUDITOR = {"X-Forwarded-User": "audrey", "X-Forwarded-Groups": "boundary-auditors,risk"}
STAFF = {"X-Forwarded-User": "sam", "X-Forwarded-Groups": "staff"}


@pytest.fixture
def audit(tmp_path: Path) -> AuditStore:
    return SqliteAuditStore(tmp_path / "audit.sqlite3", retention_days=30)


@pytest.fixture
def assistant(audit: AuditStore) -> Assistant:
    return assistant_with(audit, IN_CORPUS_REPLY)


def behind_proxy(assistant: Assistant, peer: tuple[str, int] = LOOPBACK) -> TestClient:
    access = WebAccess(SignIn(AuthSettings(trusted_proxies=["127.0.0.1"])), ROLES)
    app = create_app(assistant, lambda _: STATUS, access=access)
    return TestClient(app, raise_server_exceptions=False, client=peer)


def test_health_needs_no_sign_in(assistant: Assistant) -> None:
    for peer in (LOOPBACK, ("10.9.9.9", 50000)):
        response = behind_proxy(assistant, peer).get("/health")
        assert response.status_code == 200 and response.json()["status"] == "ok"


def test_whoami_returns_the_proxy_users_groups_and_roles(assistant: Assistant) -> None:
    response = behind_proxy(assistant).get("/v1/whoami", headers=AUDITOR)
    assert response.status_code == 200
    assert response.json() == {
        "principal": "audrey",
        "via": "proxy",
        "groups": ["boundary-auditors", "everyone", "risk"],
        "admin": False,
        "auditor": True,
    }


def test_a_request_with_no_identity_is_denied_401(assistant: Assistant) -> None:
    response = behind_proxy(assistant).get("/v1/whoami")
    assert response.status_code == 401 and response.json()["error"] == "sign_in"


def test_forged_headers_from_an_untrusted_peer_are_403_and_audited(
    assistant: Assistant, audit: AuditStore
) -> None:
    client = behind_proxy(assistant, ("10.9.9.9", 50000))
    response = client.get("/v1/whoami", headers=AUDITOR)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "sign_in" and "untrusted address 10.9.9.9" in body["message"]
    asked = client.post("/v1/ask", json={"question": IN_CORPUS}, headers=AUDITOR)
    assert asked.status_code == 403 and list(audit.interactions()) == []
    denials = audit.denials()
    assert [(d.channel, d.principal, d.groups) for d in denials] == [
        ("api", "audrey", ()),
        ("api", "audrey", ()),
    ]
    assert "/v1/whoami" in denials[0].action and "untrusted" in denials[0].reason


def test_a_repeated_identity_header_is_denied(assistant: Assistant, audit: AuditStore) -> None:
    response = behind_proxy(assistant).get(
        "/v1/whoami", headers=[("X-Forwarded-User", "a"), ("X-Forwarded-User", "b")]
    )
    assert response.status_code == 403
    assert "more than once" in response.json()["message"]
    assert ["more than once" in d.reason for d in audit.denials()] == [True]


def test_audit_export_is_forbidden_outside_the_auditor_group(
    assistant: Assistant, audit: AuditStore
) -> None:
    response = behind_proxy(assistant).get("/v1/audit/export", headers=STAFF)
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    (denial,) = audit.denials()
    assert (denial.principal, denial.action) == ("sam", "audit_export")
    assert denial.groups == ("everyone", "staff")


def test_an_auditor_exports_the_groups_and_audience_of_earlier_questions(
    assistant: Assistant,
) -> None:
    client = behind_proxy(assistant)
    asked = client.post("/v1/ask", json={"question": IN_CORPUS}, headers=AUDITOR)
    assert asked.status_code == 200 and asked.json()["kind"] == "answer"
    interaction_id = asked.json()["interaction_id"]

    response = client.get("/v1/audit/export", headers=AUDITOR)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    (row,) = [r for r in rows if r["id"] == interaction_id]
    assert row["user_id"] == "audrey" and row["channel"] == "api"
    assert row["principal_groups"] == ["boundary-auditors", "everyone", "risk"]
    assert row["audience"] == ["boundary-auditors", "everyone", "risk"]


def test_feedback_on_another_principals_answer_is_404(assistant: Assistant) -> None:
    client = behind_proxy(assistant)
    asked = client.post("/v1/ask", json={"question": IN_CORPUS}, headers=AUDITOR)
    interaction_id = asked.json()["interaction_id"]
    theirs = client.post(
        "/v1/feedback", json={"interaction_id": interaction_id, "helpful": False}, headers=STAFF
    )
    assert theirs.status_code == 404 and theirs.json()["error"] == "unknown_interaction"
    mine = client.post(
        "/v1/feedback", json={"interaction_id": interaction_id, "helpful": True}, headers=AUDITOR
    )
    assert mine.status_code == 200 and mine.json() == {"status": "recorded"}


# -- the chat directory ---------------------------------------------------------------

DIRECTORY = """\
[slack.users]
U012AB3CD = ["credit-risk"]
U0BOARD01 = ["board", "credit-risk"]

[slack.channels]
C0456EF7G = ["everyone"]
CRISK0001 = ["credit-risk"]
shared_default = ["everyone"]

[teams.users]
"6f1c-aad-object-id" = ["everyone", "board"]

[teams.conversations]
"19:abc@thread.tacv2" = ["everyone"]
"""


def directory_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def directory(tmp_path: Path) -> ChatDirectory:
    return ChatDirectory.load(directory_file(tmp_path, DIRECTORY))


def test_listed_users_get_a_principal_with_everyone_and_their_groups(
    directory: ChatDirectory,
) -> None:
    slack = directory.principal("slack", "U012AB3CD")
    assert slack == Principal("slack:U012AB3CD", frozenset({EVERYONE, "credit-risk"}), "slack")
    teams = directory.principal("teams", "6f1c-aad-object-id")
    assert teams is not None and teams.via == "teams"
    assert teams.groups == frozenset({EVERYONE, "board"})


def test_unlisted_users_have_no_principal(directory: ChatDirectory) -> None:
    assert directory.principal("slack", "UNKNOWN") is None
    assert directory.principal("slack", "") is None
    # An id is listed per platform, not across them.
    assert directory.principal("teams", "U012AB3CD") is None


def test_asker_gives_an_unknown_user_a_principal_with_no_groups(
    directory: ChatDirectory,
) -> None:
    stranger, known = directory.asker("slack", "UNKNOWN")
    assert not known
    assert stranger == Principal("slack:UNKNOWN", frozenset(), "slack")
    assert Audience.of(stranger).empty
    nobody, _ = directory.asker("teams", "")
    assert nobody.id == "teams:unknown" and nobody.groups == frozenset()
    listed, known = directory.asker("slack", "U012AB3CD")
    assert known and listed.member_of("credit-risk")


def test_a_direct_message_is_answered_from_all_the_users_groups(
    directory: ChatDirectory,
) -> None:
    board = directory.principal("slack", "U0BOARD01")
    assert board is not None
    dm = directory.audience("slack", board, "D0DIRECT1", shared=False)
    assert dm.groups == frozenset({EVERYONE, "board", "credit-risk"})


def test_a_shared_conversation_narrows_to_its_declared_groups(
    directory: ChatDirectory,
) -> None:
    board = directory.principal("slack", "U0BOARD01")
    assert board is not None
    assert directory.audience("slack", board, "CRISK0001", shared=True).groups == frozenset(
        {"credit-risk"}
    )
    assert directory.audience("slack", board, "C0456EF7G", shared=True).groups == frozenset(
        {EVERYONE}
    )
    teams = directory.principal("teams", "6f1c-aad-object-id")
    assert teams is not None
    shared = directory.audience("teams", teams, "19:abc@thread.tacv2", shared=True)
    assert shared.groups == frozenset({EVERYONE})


def test_an_undeclared_shared_conversation_gets_shared_default(
    directory: ChatDirectory,
) -> None:
    board = directory.principal("slack", "U0BOARD01")
    teams = directory.principal("teams", "6f1c-aad-object-id")
    assert board is not None and teams is not None
    # slack declares shared_default = ["everyone"]
    assert directory.audience("slack", board, "CUNLISTED", shared=True).groups == frozenset(
        {EVERYONE}
    )
    assert directory.conversation("slack", "CUNLISTED") == frozenset({EVERYONE})
    # teams declares none: an undeclared chat is answered from nothing
    assert directory.audience("teams", teams, "19:other@thread.v2", shared=True).empty
    # and shared_default is not itself a conversation id anywhere else
    assert directory.conversation("teams", "shared_default") == frozenset()


def test_a_directory_with_only_one_platform_leaves_the_other_closed(tmp_path: Path) -> None:
    only_slack = ChatDirectory.load(directory_file(tmp_path, '[slack.users]\nU1 = ["staff"]\n'))
    user = only_slack.principal("slack", "U1")
    assert user is not None and user.member_of("staff")
    assert only_slack.audience("slack", user, "C1", shared=True).empty
    assert only_slack.principal("teams", "U1") is None


def test_no_directory_file_means_nobody_has_access() -> None:
    nobody = ChatDirectory.load(None)
    assert nobody.principal("slack", "U012AB3CD") is None
    assert nobody.principal("teams", "6f1c-aad-object-id") is None
    stranger, known = nobody.asker("slack", "U012AB3CD")
    assert not known and stranger.groups == frozenset()
    assert nobody.conversation("slack", "C0456EF7G") == frozenset()


def test_a_missing_directory_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        ChatDirectory.load(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[discord.users]\nU1 = ["a"]\n', "unknown section(s) ['discord']"),
        ('slack = "x"\n', "[slack] must be a table"),
        ('[slack.people]\nU1 = ["a"]\n', "[slack] has unknown key(s) ['people']"),
        ('[teams.channels]\nX = ["a"]\n', "[teams] has unknown key(s) ['channels']"),
        ('[slack]\nusers = "U1"\n', "[slack.users]: write entries as id ="),
        ('[slack.users]\nU1 = "staff"\n', "U1 must map to a list of group names"),
        ('[teams.conversations]\nX = ["a b"]\n', "X must map to a list of group names"),
        ('[slack.channels]\nshared_default = "everyone"\n', "shared_default must map to a list"),
        ("[slack.users\n", "Fix the TOML syntax"),
    ],
    ids=[
        "unknown-section",
        "section-not-table",
        "unknown-slack-key",
        "unknown-teams-key",
        "users-not-table",
        "non-list-groups",
        "bad-group-name",
        "non-list-shared-default",
        "toml-syntax",
    ],
)
def test_a_bad_directory_file_is_a_configuration_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = directory_file(tmp_path, text)
    with pytest.raises(ConfigurationError, match=r"directory\.toml") as raised:
        ChatDirectory.load(path)
    assert expected in str(raised.value)
