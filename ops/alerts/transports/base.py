"""What every transport shares: one HTTP client with explicit timeouts, and the classification
of every failure into transient (retry later) or permanent (disable the channel).

Modelled on healthchecks' ``TransportError(permanent=...)``: a transport raises
``DeliveryError`` and the outbox decides what to do with it. Error texts never carry the
target (a webhook URL is a secret): ``scrub`` removes it from anything that might echo it.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from django.utils import timezone

# connect + read, per attempt: a receiver that hangs costs one worker at most this long.
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
# Retry-After above this is treated as this: the outbox keeps its own cap on backoff.
RETRY_AFTER_CAP_S = 600


class DeliveryError(Exception):
    """A failed send. ``permanent``: retrying cannot help (404, 410, invalid token, a refused
    recipient) — the channel is disabled with ``reason``. ``retry_after_s``: the receiver said
    when to come back (429 Retry-After)."""

    def __init__(self, reason: str, *, permanent: bool, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    detail: str = ""


def scrub(text: str, secret: str) -> str:
    """``text`` without ``secret`` (the target URL, or its path) and without anything after
    "hooks.slack.com/" — a Slack webhook's path is its credential."""
    if not text:
        return ""
    out = str(text)
    if secret:
        out = out.replace(secret, "<target>")
        parts = urlsplit(secret) if "://" in secret else None
        if parts and parts.path and len(parts.path) > 1:
            out = out.replace(parts.path, "/…")
    return out[:500]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - timezone.now()).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, RETRY_AFTER_CAP_S))


# Slack answers these bodies (with 400/403/404/410) when the webhook itself is dead or refused:
# no retry can fix them.
SLACK_PERMANENT_BODIES = ("invalid_token", "no_service", "channel_not_found", "action_prohibited",
                          "channel_is_archived", "no_team", "team_disabled", "invalid_payload", "no_text")


def classify_http(status: int, body: str, headers) -> DeliveryError:
    """The verdict for a non-2xx answer."""
    snippet = (body or "").strip()[:120]
    label = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    if status == 429:
        return DeliveryError(label, permanent=False, status_code=status,
                             retry_after_s=_retry_after(headers.get("Retry-After") if headers else None))
    if status >= 500 or status in (408, 425):
        return DeliveryError(label, permanent=False, status_code=status)
    if any(token in snippet for token in SLACK_PERMANENT_BODIES):
        return DeliveryError(label, permanent=True, status_code=status)
    # 400 (payload refused), 401/403 (auth), 404/410 (gone), anything else 4xx: the same request
    # will be refused again.
    return DeliveryError(label, permanent=True, status_code=status)


class Transport:
    """One kind of channel. Subclasses implement ``send(channel, payload)`` and return a
    ``SendResult`` or raise ``DeliveryError``; ``post_json`` is the shared HTTP call."""

    kind: str = ""

    def send(self, *, channel, payload: dict, idempotency_key: str) -> SendResult:  # pragma: no cover
        raise NotImplementedError

    def post_json(self, *, url: str, body: dict, headers: dict[str, str] | None = None) -> SendResult:
        """POST ``body`` as JSON. http.client rather than urllib: a separate connect timeout, no
        proxies from the environment and no redirects followed (a redirect could point at an
        internal address the channel form refused)."""
        _target_recheck(url)
        parts = urlsplit(url)
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname, parts.port, timeout=CONNECT_TIMEOUT_S)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        data = json.dumps(body).encode()
        try:
            conn.connect()
            conn.sock.settimeout(READ_TIMEOUT_S)
            conn.request("POST", path, body=data, headers={
                "Content-Type": "application/json", "User-Agent": "lambda-ops-alerts/1", **(headers or {}),
            })
            response = conn.getresponse()
            text = response.read(2000).decode("utf-8", "replace")
            status = response.status
            if 200 <= status < 300:
                return SendResult(status_code=status, detail=text[:120])
            raise classify_http(status, text, response.headers)
        except DeliveryError:
            raise
        except (TimeoutError, socket.timeout):
            raise DeliveryError(f"no answer within the timeout ({CONNECT_TIMEOUT_S:.0f} s connect, "
                                f"{READ_TIMEOUT_S:.0f} s read)", permanent=False) from None
        except ConnectionRefusedError:
            raise DeliveryError("connection refused", permanent=False) from None
        except socket.gaierror:
            # a name that does not resolve may be a DNS hiccup: transient; the retry window
            # fails it for good if it lasts.
            raise DeliveryError("host name did not resolve", permanent=False) from None
        except ssl.SSLCertVerificationError:
            raise DeliveryError("TLS certificate refused", permanent=True) from None
        except (http.client.HTTPException, OSError) as exc:
            raise DeliveryError(f"connection failed: {type(exc).__name__}", permanent=False) from None
        finally:
            conn.close()


def _target_recheck(url: str) -> None:
    """The form checked the address when the channel was saved; a host name can resolve
    elsewhere since (DNS rebinding), so it is checked again before every POST."""
    from django.conf import settings
    from django.core.exceptions import ValidationError

    from ops.alerts.targets import webhook_url_check

    if settings.ALERT_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        webhook_url_check(url, kind="webhook")
    except ValidationError as exc:
        raise DeliveryError(f"target refused: {exc.messages[0]}", permanent=True) from None
