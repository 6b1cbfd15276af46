"""Alert notifications to a Slack-compatible incoming webhook.

`WebhookNotifier.submit(alerts)` queues alerts; a background thread posts each as Slack JSON
(`text` plus `blocks`), retrying with backoff on network errors and 5xx/429 answers. One alert
key makes one notification per `cooldown_s`: updates of an episode in between are not sent,
unless the alert became more severe or changed kind (a spike that turns into a crisis).
The webhook URL is a secret (it carries a token): it is never logged.

What comes from posts (sample texts, authors, entry names) is escaped for Slack's markup (`&`,
`<`, `>`), so that a post saying `<!channel>` or `<https://evil.example|Official support>`
shows as text instead of pinging a channel or disguising a link. The queue is bounded
(`MAX_QUEUED`; beyond it alerts are counted as dropped and logged), and no answer of the
webhook (a `Retry-After` as a date, a body that is not JSON) can stop the sending thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from veille.models import Alert

logger = logging.getLogger(__name__)

MAX_QUEUED = 1000
MAX_RETRY_AFTER_S = 300.0

_RANK = {"info": 0, "warning": 1, "critical": 2}
_ICON = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def escape(text: Any) -> str:
    """Text as Slack shows it literally: its three control characters escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def retry_after_s(value: str | None, default: float, now: datetime | None = None) -> float:
    """Seconds to wait from a `Retry-After` header (seconds, or an HTTP date), within
    [0, MAX_RETRY_AFTER_S]; `default` when absent or unreadable."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The Slack incoming-webhook JSON of an alert; every text from outside escaped."""
    head = f"{_ICON[alert.severity]} *{escape(alert.title)}*"
    lines = [head, escape(alert.detail)] if alert.detail else [head]
    samples = alert.data.get("samples") or []
    for s in samples[:3]:
        author, text = escape(s.get("author", "?")), escape(str(s.get("text", ""))[:200])
        lines.append(f"> @{author}: {text}")
    context = escape(
        f"{alert.kind} · {alert.entry or '-'} · {alert.created_at:%Y-%m-%d %H:%M} UTC · {alert.key}"
    )
    return {
        "text": "\n".join(lines[:2]),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


class WebhookNotifier:
    """Posts alerts from a background thread. `close()` sends what is queued, then stops."""

    def __init__(
        self, url: str, cooldown_s: float = 600.0, attempts: int = 4, timeout_s: float = 10.0
    ) -> None:
        self._url = url
        self.cooldown_s = cooldown_s
        self.attempts = attempts
        self.timeout_s = timeout_s
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._sent: dict[str, tuple[float, str, str]] = {}  # key -> (when, severity, kind)
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        self.suppressed = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return f"WebhookNotifier(url=***, cooldown_s={self.cooldown_s})"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook", daemon=True)
        self._thread.start()

    def submit(self, alerts: list[Alert]) -> None:
        """Queue alerts to send; never blocks (an alert beyond `MAX_QUEUED` waiting is dropped,
        counted and logged: they are all in ClickHouse's `alerts` table anyway)."""
        for a in alerts:
            try:
                self._queue.put_nowait(a)
            except queue.Full:
                self.dropped += 1
                logger.error(
                    "webhook queue full (%d waiting): alert %s not notified", MAX_QUEUED, a.key
                )

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._queue.put(None, timeout=timeout)
            self._thread.join(timeout)
            self._thread = None

    def _due(self, a: Alert) -> bool:
        last = self._sent.get(a.key)
        if last is None:
            return True
        when, severity, kind = last
        if _RANK[a.severity] > _RANK[severity] or a.kind != kind:
            return True
        return time.monotonic() - when >= self.cooldown_s

    def _loop(self) -> None:
        while True:
            a = self._queue.get()
            if a is None:
                return
            if not self._due(a):
                self.suppressed += 1
                continue
            try:
                posted = self._post(a)
            except Exception as e:  # whatever happens, the next alerts are still sent
                logger.error("alert %s not notified: %r", a.key, e)
                posted = False
            if posted:
                self._sent[a.key] = (time.monotonic(), a.severity, a.kind)
                self.sent += 1
            else:
                self.failed += 1

    def _post(self, a: Alert) -> bool:
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            try:
                r = requests.post(self._url, json=slack_payload(a), timeout=self.timeout_s)
                if r.status_code < 300:
                    return True
                retry = r.status_code == 429 or r.status_code >= 500
                logger.warning(
                    "webhook answered %d for alert %s (attempt %d)", r.status_code, a.key, attempt
                )
                if not retry:
                    return False
                delay = max(delay, retry_after_s(r.headers.get("Retry-After"), delay))
            except requests.RequestException as e:
                logger.warning(
                    "webhook unreachable for alert %s (attempt %d): %s",
                    a.key,
                    attempt,
                    type(e).__name__,
                )
            if attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
        logger.error("alert %s not notified after %d attempts", a.key, self.attempts)
        return False
