"""Where a channel may point. A webhook URL is typed by a person and then fetched by our
workers: left unchecked it is a way to make the server POST into its own network (SSRF). So:
https only, a host name that resolves to public addresses only, and for Slack an address that
looks like an incoming webhook. ``ALERT_WEBHOOK_ALLOW_PRIVATE`` (the test suite's loopback
receivers) lifts the address and scheme rules. The sender checks again before each POST, as
a name can resolve elsewhere later.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ops.models.choices import ChannelKind

SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")


def _address_problem(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attr, word in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_reserved", "reserved"),
                       ("is_multicast", "multicast"), ("is_unspecified", "unspecified"), ("is_private", "private")):
        if getattr(ip, attr):
            return f"{word} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def resolve_host(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return []
    return sorted({info[4][0] for info in infos})


def webhook_url_check(url: str, *, kind: str) -> str:
    """The URL, stripped, or ValidationError saying what is wrong (never echoing the URL)."""
    url = (url or "").strip()
    allow_private = settings.ALERT_WEBHOOK_ALLOW_PRIVATE
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValidationError("Not a valid URL.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationError("Enter a full https:// URL.")
    if parts.scheme != "https" and not allow_private:
        raise ValidationError("Only https:// URLs are accepted: the message carries links into this dashboard.")
    if parts.username or parts.password:
        raise ValidationError("Credentials in the URL are not accepted; use the path or token the receiver gives.")
    if allow_private:
        return url
    if kind == ChannelKind.SLACK and (host not in SLACK_HOSTS or not parts.path.startswith("/services/")):
        raise ValidationError("That is not a Slack incoming webhook (https://hooks.slack.com/services/…).")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    addresses = [str(literal)] if literal is not None else resolve_host(host)
    if not addresses:
        raise ValidationError(f"The host {host} does not resolve.")
    for address in addresses:
        problem = _address_problem(address)
        if problem:
            raise ValidationError(f"The host {host} resolves to a {problem}; only public addresses are accepted.")
    return url


def email_targets_check(value: str) -> str:
    """Comma-separated addresses, normalised to "a@x, b@y"."""
    addresses = [part.strip() for part in (value or "").split(",") if part.strip()]
    if not addresses:
        raise ValidationError("Enter at least one email address.")
    if len(addresses) > 20:
        raise ValidationError("At most 20 recipients; use a mailing list for more.")
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not valid email address(es): {', '.join(a[:80] for a in bad[:5])}.")
    return ", ".join(addresses)


def target_check(*, kind: str, target: str) -> str:
    if kind == ChannelKind.EMAIL:
        return email_targets_check(target)
    return webhook_url_check(target, kind=kind)


def target_hint(*, kind: str, target: str) -> str:
    """What pages show instead of the target: for a URL its scheme and host and the last 4
    characters ("https://hooks.slack.com/…Xy9Z"); for email the first address and a count."""
    if kind == ChannelKind.EMAIL:
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        if not addresses:
            return ""
        more = f" and {len(addresses) - 1} more" if len(addresses) > 1 else ""
        return f"{addresses[0]}{more}"[:120]
    try:
        parts = urlsplit(target)
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        origin = "?"
    tail = target.rstrip("/")[-4:] if len(target) > len(origin) + 8 else ""
    return f"{origin}/…{tail}"[:120]
