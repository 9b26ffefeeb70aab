"""Email through Django's mail backend (SMTP in production, the console in the demo): a text
body and an HTML alternative. SMTP's own codes decide: 5xx (550 recipient refused, 535 auth
failed) is permanent, 4xx and a dropped connection are transient."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from ops.alerts.transports.base import DeliveryError, SendResult, Transport
from ops.models.choices import ChannelKind


def recipients(target: str) -> list[str]:
    return [part.strip() for part in target.split(",") if part.strip()]


def email_message(payload: dict, to: list[str]) -> EmailMultiAlternatives:
    subject = f"[{payload.get('severity', '').upper()}] {payload.get('status_word', '')} {payload.get('title', '')}"
    text = render_to_string("dashboard/alerts/email.txt", {"p": payload})
    html = render_to_string("dashboard/alerts/email.html", {"p": payload})
    message = EmailMultiAlternatives(subject=" ".join(subject.split())[:200], body=text,
                                     from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    message.attach_alternative(html, "text/html")
    return message


def _smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return max(codes) if codes else None
    return getattr(exc, "smtp_code", None)


class EmailTransport(Transport):
    kind = ChannelKind.EMAIL

    def send(self, *, channel, payload: dict, idempotency_key: str) -> SendResult:
        to = recipients(channel.target)
        message = email_message(payload, to)
        message.extra_headers["X-Lambda-Ops-Key"] = idempotency_key
        try:
            connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
            sent = connection.send_messages([message])
        except smtplib.SMTPAuthenticationError as exc:
            # never the password: only the server's code
            raise DeliveryError(f"SMTP authentication failed ({exc.smtp_code})", permanent=True,
                                status_code=exc.smtp_code) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code = _smtp_code(exc) or 550
            raise DeliveryError(f"SMTP {code}: recipient refused", permanent=code >= 500, status_code=code) from None
        except smtplib.SMTPResponseException as exc:
            detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise DeliveryError(f"SMTP {exc.smtp_code}: {detail[:120]}", permanent=exc.smtp_code >= 500,
                                status_code=exc.smtp_code) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, TimeoutError,
                ConnectionError, OSError) as exc:
            raise DeliveryError(f"SMTP connection failed: {type(exc).__name__}", permanent=False) from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP error: {type(exc).__name__}", permanent=False) from None
        return SendResult(status_code=250 if sent else None, detail=f"{sent} message(s) to {len(to)} recipient(s)")
