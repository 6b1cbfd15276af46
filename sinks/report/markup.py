"""HTML building blocks of the report: escaping by default, tables, cards, figures' formats.

`Markup` marks HTML built here; `h()` escapes anything else, so data (post texts, usernames,
entry names) can only ever appear as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import timedelta
from html import escape
from typing import Any

from sinks.report.period import parse_time


class Markup(str):
    """HTML built by the report's own code: inserted as is. Any other value is escaped."""


def h(value: object) -> Markup:
    return value if isinstance(value, Markup) else Markup(escape(str(value), quote=True))


def join(parts: Iterable[object]) -> Markup:
    return Markup("".join(h(p) for p in parts))


# ---- formatting ------------------------------------------------------------------------------


def fmt_int(v: Any) -> str:
    return "–" if v is None else f"{int(v):,}"


def fmt_pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v * 100:.{digits}f}%"


def fmt_signed(v: float | None) -> str:
    return "–" if v is None else f"{v:+.2f}"


def number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def scaled(v: float | None, by: float) -> float | None:
    return None if v is None else round(v / by, 2)


def fmt_minutes(v: Any) -> str:
    m = number(v)
    if m is None:
        return "–"
    if m < 90:
        return f"{m:.0f} min"
    if m < 48 * 60:
        return f"{m / 60:.1f} h"
    return f"{m / 1440:.1f} d"


def fmt_when(v: Any) -> str:
    return f"{parse_time(v):%a %d %b %H:%M}"


def fmt_span(td: timedelta) -> str:
    s = int(td.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if s % size == 0 and s >= size and not (unit == "week" and s // size == 1):
            n = s // size
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{s} seconds"


def shorten(text: Any, limit: int = 220) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


# ---- building blocks -------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], num: set[int]) -> Markup:
    """A table; columns whose index is in `num` are right-aligned figures."""

    def cls(i: int) -> str:
        return ' class="num"' if i in num else ""

    head = "".join(f"<th{cls(i)}>{h(title)}</th>" for i, title in enumerate(headers))
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            if isinstance(c, tuple):  # (value, css class)
                cells.append(f'<td class="{h(c[1])}">{h(c[0])}</td>')
            else:
                cells.append(f"<td{cls(i)}>{h(c)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def nodata(reason: str = "No data for this period.") -> Markup:
    return Markup(f'<p class="nodata">{h(reason)}</p>')


def section(title: str, sub: str, body: object, wide: bool = False, sid: str = "") -> Markup:
    cls = "card wide" if wide else "card"
    ident = f' id="{h(sid)}"' if sid else ""
    return Markup(
        f'<section class="{cls}"{ident}><h2>{h(title)}</h2><p class="sub">{h(sub)}</p>'
        f"{h(body)}</section>"
    )


def legend(items: Sequence[tuple[str, str]]) -> Markup:
    return Markup(
        '<div class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{h(n)}</span>' for n, c in items)
        + "</div>"
    )


def bar(value: float, top: float) -> Markup:
    width = 0 if top <= 0 else max(2, round(value / top * 100))
    return Markup(f'<span style="width:{width}%"></span>')


def kpi(label: str, value: str, note: str = "", note_cls: str = "") -> Markup:
    cls = f' class="note {note_cls}"' if note_cls else ' class="note"'
    return Markup(
        f'<div class="kpi"><div class="label">{h(label)}</div>'
        f'<div class="value">{h(value)}</div><div{cls}>{h(note)}</div></div>'
    )


def delta(
    now: float | None, before: float | None, kind: str, good_up: bool | None
) -> tuple[str, str]:
    """The change as text, and its CSS class (good or bad news)."""
    if now is None or before is None:
        return "", ""
    d = now - before
    if kind == "ratio":
        text = f"{d / before:+.0%}" if before else ""
    elif kind == "pts":
        text = f"{d * 100:+.1f} pts"
    else:
        text = f"{d:+.2f}"
    if not text or good_up is None or abs(d) < 1e-9:
        return text, ""
    return text, ("up-" if d > 0 else "down-") + ("good" if (d > 0) == good_up else "bad")
