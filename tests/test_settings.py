"""Settings accessors: WARROOM_* variables are read when asked for, with their defaults."""

from __future__ import annotations

import os
import re

import pytest

from warroom import settings
from warroom.settings import SettingsError

NAMES = (
    "WARROOM_BASE_URL",
    "WARROOM_STATUS_PAGE_NAME",
    "WARROOM_SMTP_HOST",
    "WARROOM_SMTP_PORT",
    "WARROOM_SMTP_FROM",
    "WARROOM_MAX_ALERT_BODY",
    "WARROOM_URL",
    "WARROOM_TOKEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_when_unset() -> None:
    assert settings.base_url() == ""
    assert settings.status_page_name() == "Status"
    assert settings.smtp_host() == ""
    assert settings.smtp_port() == 25
    assert settings.smtp_sender() == "warroom@localhost"
    assert settings.smtp_sender(settings.STATUS_SENDER) == "status@localhost"
    assert settings.max_alert_body() == 1024 * 1024
    assert settings.api_url() == "http://127.0.0.1:8080"
    assert settings.api_token() == ""


def test_values_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_BASE_URL", "https://warroom.example/")
    monkeypatch.setenv("WARROOM_STATUS_PAGE_NAME", "Acme")
    monkeypatch.setenv("WARROOM_SMTP_HOST", "mail.example")
    monkeypatch.setenv("WARROOM_SMTP_PORT", "2525")
    monkeypatch.setenv("WARROOM_SMTP_FROM", "pages@acme.example")
    monkeypatch.setenv("WARROOM_MAX_ALERT_BODY", "4096")
    monkeypatch.setenv("WARROOM_URL", "https://warroom.example/")
    monkeypatch.setenv("WARROOM_TOKEN", "wr_secret")
    assert settings.base_url() == "https://warroom.example"
    assert settings.status_page_name() == "Acme"
    assert (settings.smtp_host(), settings.smtp_port()) == ("mail.example", 2525)
    assert settings.smtp_sender() == settings.smtp_sender(settings.STATUS_SENDER)
    assert settings.smtp_sender() == "pages@acme.example"
    assert settings.max_alert_body() == 4096
    assert settings.api_url() == "https://warroom.example"
    assert settings.api_token() == "wr_secret"


def test_empty_cli_variables_fall_back_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_URL", "")
    monkeypatch.setenv("WARROOM_TOKEN", "")
    assert settings.api_url() == "http://127.0.0.1:8080"
    assert settings.api_token() == ""


@pytest.mark.parametrize("name", ["WARROOM_SMTP_PORT", "WARROOM_MAX_ALERT_BODY"])
@pytest.mark.parametrize("raw", ["abc", "", "25.0"])
def test_a_bad_number_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    read = settings.smtp_port if name == "WARROOM_SMTP_PORT" else settings.max_alert_body
    with pytest.raises(
        SettingsError, match=re.escape(f"{name} must be a whole number, not {raw!r}")
    ):
        read()
    assert issubclass(SettingsError, ValueError)


def test_default_base_url_does_not_override_a_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_BASE_URL", "")  # so that monkeypatch restores it afterwards
    monkeypatch.delenv("WARROOM_BASE_URL")
    settings.default_base_url("http://127.0.0.1:8080")
    assert settings.base_url() == "http://127.0.0.1:8080"
    monkeypatch.setenv("WARROOM_BASE_URL", "https://warroom.example")
    settings.default_base_url("http://127.0.0.1:9090")
    assert settings.base_url() == "https://warroom.example"
    assert os.environ["WARROOM_BASE_URL"] == "https://warroom.example"
