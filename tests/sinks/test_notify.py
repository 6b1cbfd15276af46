"""Webhook notifications: Slack JSON, retries, one notification per alert key and cooldown."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sinks.notify import WebhookNotifier
from veille.models import Alert


class _Hook:
    """A local webhook that fails the first `failures` calls with 503."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(503)
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
