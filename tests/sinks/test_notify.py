"""Webhook notifications: Slack JSON, retries, one notification per alert key and cooldown."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sinks.notify import MAX_QUEUED, WebhookNotifier, retry_after_s, slack_payload
from veille.models import Alert


class _Hook:
    """A local webhook that fails the first `failures` calls with 503."""

    def __init__(self, failures: int = 0, status: int = 503, retry_after: str = "") -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(status)
                    if retry_after:
                        self.send_header("Retry-After", retry_after)
                else:
                    hook.received.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/s3cr3t"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _alert(key: str, severity: str = "warning", kind: str = "spike") -> Alert:
    return Alert(
        key=key,
        kind=kind,
        severity=severity,
        title=f"Volume spike ({key})",
        detail="120 posts against 15 usually",
        entry="Orbital Telecom",
        data={"samples": [{"author": "marie", "text": "encore une panne"}]},
    )


def test_one_notification_per_episode_with_retries_and_escalation() -> None:
    hook = _Hook(failures=2)
    n = WebhookNotifier(hook.url, cooldown_s=3600, attempts=4)
    n.start()
    try:
        n.submit([_alert("crisis:A:1"), _alert("crisis:A:1"), _alert("crisis:B:1")])
        n.submit([_alert("crisis:A:1", severity="critical", kind="crisis")])  # it got worse
        n.submit([_alert("crisis:A:1", severity="critical", kind="crisis")])  # same again
    finally:
        n.close()
        hook.close()
    texts = [r["text"] for r in hook.received]
    assert len(texts) == 3 and n.sent == 3 and n.suppressed == 2
    assert texts[0].startswith(":warning: *Volume spike (crisis:A:1)*")
    assert hook.received[2]["text"].startswith(":rotating_light:")
    assert "encore une panne" in hook.received[0]["blocks"][0]["text"]["text"]
    assert "s3cr3t" not in repr(n)


def test_post_text_cannot_ping_a_channel_or_disguise_a_link() -> None:
    hostile = "<!channel> call <https://evil.example|Official support> & <@U123>"
    a = _alert("k")
    a = a.model_copy(update={"data": {"samples": [{"author": "<!here>", "text": hostile}]}})
    text = slack_payload(a)["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "<https://" not in text and "<!here>" not in text
    assert "&lt;!channel&gt; call &lt;https://evil.example|Official support&gt; &amp;" in text


def test_retry_after_as_seconds_or_date_and_never_a_crash() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, 9, 0, 0, tzinfo=UTC)
    assert retry_after_s("7", 1.0) == 7.0
    assert retry_after_s("Mon, 07 Dec 2026 09:00:30 GMT", 1.0, now=now) == 30.0
    assert retry_after_s("Mon, 07 Dec 2026 08:00:00 GMT", 1.0, now=now) == 0.0  # past
    assert retry_after_s("soon", 2.0) == 2.0 and retry_after_s(None, 2.0) == 2.0
    assert retry_after_s("86400", 1.0) == 300.0  # bounded


def test_a_retry_after_date_does_not_stop_later_notifications() -> None:
    """A 429 whose Retry-After is an HTTP date used to raise in the sending thread: that alert
    and every later one were never sent."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    hook = _Hook(failures=1, status=429, retry_after=when)
    n = WebhookNotifier(hook.url, cooldown_s=0.0)
    n.start()
    try:
        n.submit([_alert("first"), _alert("second")])
        n.close()
    finally:
        hook.close()
    assert n.sent == 2 and len(hook.received) == 2


def test_the_queue_is_bounded_and_says_what_it_dropped(caplog: Any) -> None:
    n = WebhookNotifier("http://127.0.0.1:9/hook")  # not started: nothing is taken
    n.submit([_alert(f"k{i}") for i in range(MAX_QUEUED + 3)])
    assert n.dropped == 3 and "webhook queue full" in caplog.text
