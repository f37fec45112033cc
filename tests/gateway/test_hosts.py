"""CHATGATE_ALLOWED_HOSTS: which Host headers are answered, and when serve warns."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.http.hosts import HostPolicy, unguarded_warning
from gateway.settings import Settings

POLICY = HostPolicy.parse("chat.example.com, *.acme.test, [::1], 10.0.0.7")


@pytest.mark.parametrize(
    "host",
    [
        "chat.example.com",
        "CHAT.Example.COM",
        "chat.example.com:8443",
        "chat.example.com.",
        "eu.acme.test",
        "a.b.acme.test:80",
        "[::1]:8000",
        "10.0.0.7",
    ],
)
def test_hosts_policy_allows_listed_names_any_port_and_subdomains(host: str) -> None:
    """Listed names match case-insensitively, with any port; *.acme.test matches subdomains."""
    assert POLICY.allows(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "attacker.example",
        "chat.example.com.attacker.example",
        "acme.test",
        "evilacme.test",
        "user@chat.example.com",
        "chat.example.com/path",
        "chat.example.com:port",
        "[::2]",
    ],
)
def test_hosts_policy_refuses_everything_else(host: str | None) -> None:
    """Other names, the bare apex of a wildcard, look-alike suffixes, a missing Host and
    malformed values are refused."""
    assert not POLICY.allows(host)


@pytest.mark.parametrize("listed", ["", "  ", "*", "chat.example.com,*"])
def test_hosts_policy_empty_or_star_allows_any_host(listed: str) -> None:
    """Unset (the default) or '*' answers every host, a missing one included."""
    policy = HostPolicy.parse(listed)
    assert policy.any_host and policy.allows("anything.example") and policy.allows(None)


@pytest.mark.parametrize("listed", ["foo*.example.com", "a b", "https://chat.example.com", "*."])
def test_hosts_setting_rejects_malformed_patterns(listed: str) -> None:
    """A pattern that is not a host name, '*.domain' or '*' stops the gateway at start."""
    with pytest.raises(ValueError, match="invalid setting"):
        Settings.from_env({"CHATGATE_ALLOWED_HOSTS": listed})


@pytest.mark.parametrize(
    ("changes", "warned"),
    [
        ({"host": "0.0.0.0"}, True),
        ({"host": "::"}, True),
        ({"host": "10.1.2.3"}, True),
        ({"host": "chat.internal"}, True),
        ({"host": "127.0.0.1"}, False),
        ({"host": "127.8.9.10"}, False),
        ({"host": "::1"}, False),
        ({"host": "localhost"}, False),
        ({"host": "0.0.0.0", "allowed_hosts": "chat.example.com"}, False),
        ({"host": "0.0.0.0", "public_url": "https://chat.example.com"}, False),
    ],
)
def test_hosts_unguarded_warning_only_beyond_loopback_with_neither_setting(
    changes: dict[str, Any], warned: bool
) -> None:
    """serve warns when it listens beyond loopback with neither CHATGATE_PUBLIC_URL nor
    CHATGATE_ALLOWED_HOSTS set, and only then."""
    warning = unguarded_warning(Settings(**changes))
    assert (warning is not None) is warned
