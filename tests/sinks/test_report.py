"""`veille report` against chDB: a self-contained HTML file, escaped, rendered by Chromium.

The Chromium checks need Debian's `chromium` (`make test` as root installs it); without it they
skip, saying how to install it, except under CI (`CI` set), where they fail.
"""

from __future__ import annotations

import os
import random
import re
import struct
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from factories import REPO, make_enriched, require_tool, run_veille

from sinks.clickhouse import ClickHouseSink
from sinks.report import ReportError, build_report, parse_since
from veille.models import AccountSnapshot, Alert, EnrichedPost
from veille.settings import ClickHouseSettings

NEWEST = datetime(2026, 11, 20, 17, 42, 10, tzinfo=UTC)
HOSTILE = (
    "<script>alert(1)</script> @orbital_care \"quoted\" & 'single' <img src=x onerror=alert(2)>"
)
SECTIONS = (
    "Volume and sentiment over time",
    "Share of voice",
    "Sentiment by brand",
    "Emerging terms",
    "Top hashtags",
    "Top authors by reach",
    "Top authors by engagement",
    "Customer-care queue",
    "Response times",
    "Alerts",
    "Language mix",
    "Audience growth",
    "Latest negative posts",
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ENTRIES = [
    (("Orbital Telecom",), ("brand",)),
    (("Orbital Telecom",), ("brand",)),
    (("Nimbus Télécom",), ("competitor",)),
    (("Zephyr Net",), ("competitor",)),
    (("Orbital Telecom", "Nimbus Télécom"), ("brand", "competitor")),
    (("Helios Bank",), ("partner",)),
]
TEXTS = {
    "en": ["{e} network down again #outage", "Loving the new {e} plan #5G", "{e} bill is fine"],
    "fr": ["Panne chez {e} depuis ce matin #panne", "Super service client {e}", "Forfait {e}"],
    "es": ["Sin señal con {e} #averia", "Gracias {e} por la fibra", "Factura de {e}"],
    "de": ["Störung bei {e} #stoerung", "Glasfaser von {e} ist top", "Rechnung von {e}"],
}
TAGS = {"negative": ["outage", "fail"], "neutral": ["5G"], "positive": ["5G", "fibre"]}


def _post(
    post_id: int,
    text: str,
    at: datetime,
    author: int,
    followers: int,
    hashtags: tuple[str, ...] = (),
    likes: int = 0,
    **kw: Any,
) -> EnrichedPost:
    entities = {"hashtags": [{"start": 0, "end": 1, "tag": t} for t in hashtags]}
    post = make_enriched(
        post_id,
        text,
        created_at=at,
        author_id=str(author),
        username=kw.pop("username", f"user{author}"),
        entities=entities,
        public_metrics={"retweet_count": likes // 4, "reply_count": 1, "like_count": likes},
        **kw,
    )
    return post.model_copy(
        update={"author": post.author.model_copy(update={"followers_count": followers})}
    )


def fill(ch: Any, clickhouse: ClickHouseSettings) -> None:
    """Nine days of posts about a telecom market, with an outage, care traffic and alerts."""
    rnd = random.Random(7)
    sink = ClickHouseSink(clickhouse, client=ch)
    sink.start()
    start = NEWEST - timedelta(days=9)
    pid = 1000
    for hour in range(9 * 24):
        t0 = start + timedelta(hours=hour)
        outage = (
            datetime(2026, 11, 18, 8, tzinfo=UTC) <= t0 < datetime(2026, 11, 18, 20, tzinfo=UTC)
        )
        n = 1 + (hour % 24 in range(8, 22)) * 2 + (6 if outage else 0)
        for _ in range(n):
            pid += 1
            lang = rnd.choice(["en", "en", "fr", "fr", "es", "de"])
            entries, kinds = rnd.choice(ENTRIES)
            sentiment = (
                "negative"
                if outage and rnd.random() < 0.8
                else rnd.choice(["negative", "neutral", "neutral", "positive", "positive"])
            )
            template = TEXTS[lang][{"negative": 0, "positive": 1, "neutral": 2}[sentiment]]
            author = rnd.randrange(1, 60)
            sink.add(
                _post(
                    pid,
                    template.format(e=entries[0]) + (" réseau coupé" if outage else ""),
                    t0 + timedelta(minutes=rnd.randrange(60)),
                    author,
                    followers=author * 997 % 50_000,
                    hashtags=tuple(TAGS[sentiment]),
                    likes=rnd.randrange(40),
                    entries=entries,
                    kinds=kinds,
                    sentiment=sentiment,
                    lang=lang,
                    topics=("outage",) if outage else (),
                )
            )
    # customer care: questions to @orbital_care, some answered by the brand's account
    for i in range(12):
        asked_at = NEWEST - timedelta(days=6, hours=-i * 12)
        q = 5000 + i
        sink.add(
            _post(
                q,
                f"@orbital_care how do I change my plan? ({i})",
                asked_at,
                900 + i,
                300,
                intent="question",
                addressed=("orbital_care",),
                sentiment="neutral",
            )
        )
        if i % 3:
            sink.add(
                _post(
                    6000 + i,
                    "@asker Happy to help, sent you a DM",
                    asked_at + timedelta(minutes=15 + 20 * i),
                    4242,
                    80_000,
                    username="orbital_care",
                    author_entry="Orbital Telecom",
                    referenced_tweets=[{"type": "replied_to", "id": str(q)}],
                    in_reply_to_user_id=str(900 + i),
                    conversation_id=str(q),
                    sentiment="positive",
                )
            )
    # the hostile post: user input that must never become markup
    sink.add(
        _post(
            7000,
            HOSTILE,
            NEWEST,
            666,
            1_000_000,
            intent="complaint",
            addressed=("orbital_care",),
            sentiment="negative",
            username="evil_user",
        )
    )
    for hours, followers in ((150, 10_000), (80, 10_400), (2, 11_250)):
        sink.add(
            AccountSnapshot(
                id="4242",
                username="orbital_care",
                entry="Orbital Telecom",
                entry_kind="brand",
                followers_count=followers,
                observed_at=NEWEST - timedelta(hours=hours),
            )
        )
    sink.add(
        Alert(
            key="spike:Orbital Telecom",
            kind="spike",
            severity="critical",
            title="Volume spike: Orbital Telecom",
            detail="<b>6x</b> the usual volume",
            entry="Orbital Telecom",
            created_at=datetime(2026, 11, 18, 8, 30, tzinfo=UTC),
        )
    )
    sink.add(
        Alert(
            key="old",
            kind="spike",
            title="Before the period",
            entry="Zephyr Net",
            created_at=NEWEST - timedelta(days=8),
        )
    )
    sink.flush()


class _Audit(HTMLParser):
    """Counts tags; collects the attributes that load things and the event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.loading: list[tuple[str, str, str]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                self.loading.append((tag, name, value or ""))
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")


def _audit(html: str) -> _Audit:
    a = _Audit()
    a.feed(html)
    return a


def test_parse_since() -> None:
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("12h") == timedelta(hours=12)
    assert parse_since("2w") == timedelta(days=14)
    for bad in ("", "7", "0d", "-1d", "7y", "7d; DROP"):
        with pytest.raises(ReportError, match="--since"):
            parse_since(bad)


def test_report_is_self_contained_escaped_and_complete(
    ch: Any, clickhouse: ClickHouseSettings
) -> None:
    fill(ch, clickhouse)
    report = build_report(ch, "7d", now=NEWEST + timedelta(hours=1))
    html, data = report.html, report.data

    # the period: the 7 days ending with the newest post's minute
    assert data.period.newest == NEWEST.replace(microsecond=0)
    assert data.period.end == datetime(2026, 11, 20, 17, 43, tzinfo=UTC)
    assert data.period.start == data.period.end - timedelta(days=7)
    assert data.bucket_s == 3 * 3600 and len(data.timeline) in (56, 57)
    expected = ch.command(
        "SELECT count() FROM posts FINAL "
        "WHERE created_at >= {start:DateTime} AND created_at < {end:DateTime}",
        parameters=data.period.params,
    )
    assert data.totals.posts == expected > 400
    assert data.previous.posts > 0 and data.main_brand == "Orbital Telecom"
    assert not data.previous_complete  # the posts begin 2 days into the previous week
    assert "vs previous" not in html
    assert 0 < data.main_brand_share < 1
    assert [a["key"] for a in data.alerts] == ["spike:Orbital Telecom"]
    assert report.empty_sections() == []

    # self-contained: nothing to load, no script, no external stylesheet
    audit = _audit(html)
    assert audit.loading == [], audit.loading
    assert audit.handlers == [], audit.handlers
    assert "script" not in audit.tags and "link" not in audit.tags and "iframe" not in audit.tags
    assert "@import" not in html and "url(" not in html
    assert re.search(r"""(src|href)\s*=\s*["']?\s*https?:""", html, re.I) is None
    assert "default-src 'none'" in html  # the CSP meta forbids loading anything

    # the hostile post is shown, as text
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "@evil_user" in html
    assert "&lt;b&gt;6x&lt;/b&gt;" in html  # an alert's detail is escaped too

    # charts and sections
    assert audit.tags["svg"] >= 5
    assert audit.tags["rect"] > 100 and audit.tags["path"] >= 1 and audit.tags["circle"] > 0
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in html, heading
    assert "No data" not in html
    assert "#outage" in html and "@orbital_care" in html and "+1,250" in html


def test_entry_filter_and_empty_database(ch: Any, clickhouse: ClickHouseSettings) -> None:
    empty = build_report(ch, "7d", now=NEWEST)
    assert empty.data.totals.posts == 0 and empty.data.period.newest is None
    assert empty.data.period.end == NEWEST.replace(second=0) + timedelta(minutes=1)
    assert "No data for this period." in empty.html and "<svg" not in empty.html
    assert len(empty.empty_sections()) == 12

    fill(ch, clickhouse)
    two_days = build_report(ch, "2d")
    assert two_days.data.previous_complete and "vs previous 2 days" in two_days.html
    report = build_report(ch, "2d", entry="Zephyr Net", title="Zephyr <weekly>")
    assert report.data.main_brand == "Zephyr Net" and report.data.bucket_s == 3600
    assert "<title>Zephyr &lt;weekly&gt;</title>" in report.html
    assert all("Zephyr Net" in p["entries"] for p in report.data.negative_posts)
    assert report.data.care_queue == []  # nobody asks Zephyr's accounts anything
    assert "Nothing waits for an answer." in report.html


# ---- rendered by a real browser ------------------------------------------------------------


def _chromium() -> str:
    return require_tool("chromium", "chromium-browser")


def _run_chromium(args: list[str], tmp: Path, profile: str) -> subprocess.CompletedProcess[str]:
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, f"chromium failed: {proc.stderr[-2000:]}"
    return proc


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit non-interlaced PNG (zlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def test_report_renders_in_headless_chromium(
    ch: Any, clickhouse: ClickHouseSettings, tmp_path: Path
) -> None:
    _chromium()  # skip (CI: fail) first, clearly, when the browser is missing
    fill(ch, clickhouse)
    page = tmp_path / "report.html"
    page.write_text(build_report(ch, "7d").html, encoding="utf-8")

    dom = _run_chromium(["--dump-dom", page.as_uri()], tmp_path, "dom").stdout
    audit = _audit(dom)
    assert audit.tags.get("svg", 0) >= 5 and audit.tags.get("rect", 0) > 100
    assert audit.tags.get("path", 0) >= 1 and audit.tags.get("circle", 0) > 0
    assert "script" not in audit.tags  # the hostile text did not become an element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "Volume and sentiment over time" in dom

    shot = tmp_path / "report.png"
    _run_chromium(
        [f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", page.as_uri()],
        tmp_path,
        "shot",
    )
    assert shot.exists(), "chromium wrote no screenshot"
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    bpp = len(rows[0]) // width
    ink = red = green = 0
    for line in rows[::2]:
        for x in range(0, len(line), bpp * 2):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if r < 235 or g < 235 or b < 235:
                ink += 1
            if r > 180 and g < 100 and b < 100:
                red += 1  # negative bars
            elif g > 130 and r < 80 and b < 140:
                green += 1  # positive bars
    sampled = (height // 2) * (width // 2)
    assert ink > sampled * 0.03, f"screenshot nearly blank: {ink} of {sampled} sampled pixels"
    assert red > 500 and green > 500, (red, green)


# ---- the command line ------------------------------------------------------------------------


def test_report_command(tmp_path: Path) -> None:
    help_ = run_veille("report", "--help")
    assert help_.returncode == 0 and "Example:" in help_.stdout

    missing = run_veille("report", "--data-dir", str(tmp_path / "nothing"))
    assert missing.returncode != 0 and "veille up" in missing.stderr
    bad = run_veille("report", "--since", "7y", "--data-dir", str(tmp_path))
    assert bad.returncode != 0 and "--since" in bad.stderr

    # a data directory of its own (chDB serves one directory per process): fill it in a child
    data_dir = tmp_path / "data"
    script = (
        "import sys; sys.path.insert(0, 'tests'); sys.path.insert(0, 'tests/sinks')\n"
        "from pathlib import Path\n"
        "from sinks.clickhouse import connect\n"
        "from veille.settings import ClickHouseSettings\n"
        "from test_report import fill\n"
        "s = ClickHouseSettings(url=None)\n"
        f"fill(connect(s, Path({str(data_dir / 'clickhouse')!r})), s)\n"
    )
    env_clean = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    filled = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        env=env_clean,
    )
    assert filled.returncode == 0, filled.stderr[-2000:]

    out = tmp_path / "weekly.html"
    proc = run_veille(
        "report",
        "--since",
        "7d",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        "--title",
        "Weekly <report>",
    )
    assert proc.returncode == 0, proc.stderr
    html = out.read_text(encoding="utf-8")
    assert "<title>Weekly &lt;report&gt;</title>" in html and "<svg" in html
    assert str(out) in proc.stdout and "posts" in proc.stdout
