import os
import stat

from audit import create_app


def test_app_factory_uses_test_config(app):
    assert app.testing
    assert app.config["DATABASE"].endswith("audit.sqlite3")


def test_defaults_work_with_nothing_configured(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()
    config_file = instance / "config.py"
    assert config_file.exists(), "the secret key is generated into instance/config.py"
    assert stat.S_IMODE(os.stat(config_file).st_mode) == 0o600
    assert len(app.config["SECRET_KEY"]) == 64
    assert app.config["DATABASE"] == str(instance / "audit.sqlite3")
    assert (instance / "audit.sqlite3").exists()
    # A second start reuses the key instead of writing another one.
    again = create_app()
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert config_file.read_text().count("SECRET_KEY") == 1


def test_database_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(tmp_path / "inst"))
    monkeypatch.setenv("RULE_AUDIT_DATABASE", str(tmp_path / "elsewhere.db"))
    app = create_app()
    assert app.config["DATABASE"] == str(tmp_path / "elsewhere.db")
    assert (tmp_path / "elsewhere.db").exists()


def test_database_setting_in_instance_config(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        f"SECRET_KEY = 'k'\nDATABASE = {str(tmp_path / 'configured.db')!r}\n"
    )
    monkeypatch.setenv("RULE_AUDIT_INSTANCE", str(instance))
    monkeypatch.delenv("RULE_AUDIT_DATABASE", raising=False)
    app = create_app()
    assert app.config["DATABASE"] == str(tmp_path / "configured.db")
    assert app.config["SECRET_KEY"] == "k"


def test_session_cookie_settings(app, tmp_path):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False
    secure = create_app(
        {"SECRET_KEY": "x", "DATABASE": str(tmp_path / "s.db"), "SESSION_COOKIE_SECURE": True}
    )
    assert secure.config["SESSION_COOKIE_SECURE"] is True


def test_login_cookie_is_httponly_and_lax(client, db):
    from tests.conftest import Auth, make_user

    make_user(db, "anna")
    response = Auth(client).login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_templates_are_the_root_level_folder(app):
    from audit.config import ROOT

    assert app.template_folder == str(ROOT / "templates")
