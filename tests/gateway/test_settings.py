"""Settings: defaults, then CHATGATE_* variables, then flags."""

from __future__ import annotations

import pytest

from gateway.settings import Settings


def test_settings_defaults_are_the_embedded_setup() -> None:
    """Out of the box: 127.0.0.1:8000, SQLite under ./data, 64 KiB frames, 5 s hello."""
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.database_url == "sqlite:///./data/chatgate.db"
    assert settings.max_frame_bytes == 65536 and settings.hello_timeout == 5.0


def test_settings_environment_then_flags() -> None:
    """Variables are converted to their types; flags win over variables; None flags don't."""
    environ = {
        "CHATGATE_PORT": "9001",
        "CHATGATE_HELLO_TIMEOUT": "2.5",
        "CHATGATE_BOOTSTRAP": "false",
        "CHATGATE_HOST": "0.0.0.0",
        "UNRELATED": "x",
    }
    settings = Settings.from_env(environ, port=9100, host=None)
    assert settings.port == 9100 and settings.host == "0.0.0.0"
    assert settings.hello_timeout == 2.5 and settings.bootstrap is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHATGATE_PORT", "eighty"),
        ("CHATGATE_PORT", "70000"),
        ("CHATGATE_SEND_QUEUE_SIZE", "2"),
        ("CHATGATE_LOG_LEVEL", "loud"),
        ("CHATGATE_HELLO_TIMEOUT", "0"),
        ("CHATGATE_SECRET_KEY", "too-short"),
        ("CHATGATE_TRUSTED_PROXIES", "10.0.0.0/8,nginx"),
        ("CHATGATE_VISITOR_REQUESTS_PER_MINUTE", "-1"),
    ],
)
def test_settings_reject_bad_values(name: str, value: str) -> None:
    """A malformed or out-of-range variable is a ValueError naming the setting."""
    with pytest.raises(ValueError, match="invalid setting"):
        Settings.from_env({name: value})
