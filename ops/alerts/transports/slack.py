"""Slack incoming webhook: Block Kit (header, the numbers, the diagnosis with links, URL buttons)
and a ``text`` fallback for notifications and clients that show no blocks."""

from __future__ import annotations

from ops.alerts.transports.base import SendResult, Transport
from ops.models.choices import ChannelKind

_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:",
          "resolved": ":large_green_circle:"}
# Block Kit limits: header text 150 chars, button text 75, section text 3000.
_HEADER_MAX, _BUTTON_MAX, _SECTION_MAX = 150, 75, 3000


def _esc(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are special."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, text: str) -> str:
    return f"<{url}|{_esc(text).replace('|', '¦')}>" if url else _esc(text)


def slack_blocks(payload: dict) -> dict:
    """The webhook body for one rendered notification payload (ops.alerts.messages)."""
    resolved = payload.get("kind") == "resolved"
    badge = _EMOJI["resolved" if resolved else payload.get("severity", "warning")] if payload.get("severity") else ""
    header = f"{payload.get('status_word', '')} {payload.get('severity', '').upper()} · {payload.get('title', '')}".strip()
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": header[:_HEADER_MAX], "emoji": True}}]
    facts = [f"*{_esc(label)}*  {_esc(value)}" for label, value in payload.get("facts", [])]
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)[:_SECTION_MAX]}})
    diagnosis = payload.get("diagnosis") or []
    if diagnosis:
        lines = "\n".join(f"• {_link(d.get('url', ''), d.get('text', ''))}" for d in diagnosis)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": ("*Diagnosis*\n" + lines)[:_SECTION_MAX]}})
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": b["label"][:_BUTTON_MAX]}, "url": b["url"],
         **({"style": b["style"]} if b.get("style") else {}), "action_id": f"link-{i}"}
        for i, b in enumerate(payload.get("buttons", [])) if b.get("url")
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons[:25]})
    if payload.get("footer"):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _esc(payload["footer"])}]})
    return {"text": f"{badge} {payload.get('summary', header)}".strip(), "blocks": blocks}


class SlackTransport(Transport):
    kind = ChannelKind.SLACK

    def send(self, *, channel, payload: dict, idempotency_key: str) -> SendResult:
        return self.post_json(url=channel.target, body=slack_blocks(payload))
