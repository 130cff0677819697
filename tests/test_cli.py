import urllib.request

import pytest

from audit import cli, demo
from audit.domain import organisation, users
from tests.conftest import make_team
from tests.servers import start_server


def test_create_user(runner, db):
    make_team(db, "Vlinder")
    result = runner.invoke(
        args=[
            "create-user",
            "anouk",
            "--role",
            "member",
            "--team",
            "vlinder",
            "--password",
            "long enough",
        ]
    )
    assert result.exit_code == 0, result.output
    user = users.find_user(db, "anouk")
    assert user.role == "member" and len(user.team_ids) == 1


def test_create_user_prompts_for_a_hidden_confirmed_password(runner, db):
    result = runner.invoke(
        args=["create-user", "ilse", "--role", "quality"], input="long enough\nlong enough\n"
    )
    assert result.exit_code == 0, result.output
    assert "long enough" not in result.output  # hidden
    assert users.authenticate(db, "ilse", "long enough").username == "ilse"


def test_create_user_prompt_mismatch(runner, db):
    result = runner.invoke(
        args=["create-user", "ilse", "--role", "quality"], input="long enough\nother one\n"
    )
    assert result.exit_code != 0
    assert users.find_user(db, "ilse") is None


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["create-user", "x", "--role", "boss", "--password", "long enough"],
            "'boss' is not one of",
        ),
        (
            ["create-user", "x", "--role", "member", "--team", "Nope", "--password", "long enough"],
            "Unknown team: Nope",
        ),
        (["create-user", "x", "--role", "member", "--password", "short"], "at least 8"),
        (["create-user", "bad name", "--role", "member", "--password", "long enough"], "no spaces"),
        (["create-user", "--role", "member"], "Missing argument"),
    ],
)
def test_create_user_errors_are_one_line_and_non_zero(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("RULE_AUDIT_DATABASE", str(tmp_path / "cli.db"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert message.lower() in err.lower()
    assert len(err.strip().splitlines()) == 1, err


def test_duplicate_user(runner, db):
    runner.invoke(args=["create-user", "x", "--role", "member", "--password", "long enough"])
    result = runner.invoke(
        args=["create-user", "X", "--role", "viewer", "--password", "long enough"]
    )
    assert result.exit_code == 1
    assert "This user name is taken." in result.output
    assert users.count_users(db) == 1


def test_seed_demo(runner, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert organisation.get_settings(db)["name"] == demo.ORGANISATION
    assert len(organisation.list_locations(db)) == 2
    assert len(organisation.list_teams(db)) == 4
    roles = {u["role"] for u in users.list_users(db)}
    assert roles == {"admin", "quality", "member", "viewer"}
    # The printed passwords are the real ones.
    line = next(line for line in result.output.splitlines() if line.strip().startswith("kwaliteit"))
    assert users.authenticate(db, "kwaliteit", line.split()[-1]).role == "quality"


def test_seed_demo_refuses_a_database_with_users(runner, db):
    runner.invoke(args=["seed-demo"])
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "empty" in result.output


def test_serve_uses_waitress(runner, monkeypatch, db):
    calls = []
    import waitress

    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append(kw))
    result = runner.invoke(args=["serve", "--host", "127.0.0.1", "--port", "5123", "--demo"])
    assert result.exit_code == 0, result.output
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 5123
    assert "beheer" in result.output  # demo logins printed
    assert users.count_users(db) == len(demo.PEOPLE)


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_serve_refuses_a_bad_port(runner, port):
    assert runner.invoke(args=["serve", "--port", port]).exit_code == 2


def test_rule_audit_serve_answers_for_real(tmp_path):
    """The README's command, as a process: waitress on a fresh instance folder with the demo."""
    server = start_server(tmp_path, "--demo")
    try:
        with urllib.request.urlopen(server.base + "/login", timeout=5) as page:  # noqa: S310
            body = page.read().decode()
        assert "Inloggen" in body
        assert (tmp_path / "config.py").exists()
    finally:
        output, _ = server.stop()
    assert "beheer" in output and f"{server.base}/" in output
