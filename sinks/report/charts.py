"""Charts as inline SVG strings: no script, no font or image to fetch, printable as is.

Every text that reaches the SVG (labels, tooltips) is HTML-escaped here; callers pass raw
values. Sizes are in viewBox units; the CSS scales each chart to its container's width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

NEGATIVE = "#d64545"
NEUTRAL = "#a7b1c2"
POSITIVE = "#2f9e6e"
ACCENT = "#2b6cb0"
MUTED = "#8a94a6"
GRID = "#e6eaf0"
TEXT = "#4a5568"


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float | None]
    dash: bool = False


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _n(x: float) -> str:
    """A coordinate, short."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) covering `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def _fmt_tick(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if v >= 10_000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def _svg(width: float, height: float, label: str, body: list[str], cls: str = "chart") -> str:
    return (
        f'<svg class="{cls}" viewBox="0 0 {_n(width)} {_n(height)}" role="img" '
        f'aria-label="{_e(label)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{_e(label)}</title>{''.join(body)}</svg>"
    )


def _y_axis(
    ticks: list[float], x0: float, x1: float, y: Callable[[float], float], fmt: Callable[..., str]
) -> list[str]:
    out = []
    for t in ticks:
        yy = y(t)
        out.append(
            f'<line x1="{_n(x0)}" x2="{_n(x1)}" y1="{_n(yy)}" y2="{_n(yy)}" stroke="{GRID}"/>'
        )
        out.append(
            f'<text x="{_n(x0 - 6)}" y="{_n(yy + 4)}" text-anchor="end" fill="{MUTED}">'
            f"{_e(fmt(t))}</text>"
        )
    return out


def stacked_columns(
    labels: Sequence[str],
    series: Sequence[Series],
    ticks: Sequence[tuple[int, str]],
    label: str,
    width: float = 1080,
    height: float = 260,
) -> str:
    """Columns stacked per series (bottom first); `ticks` are (index, text) x-axis labels."""
    left, right, top, bottom = 44, 8, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(1, len(labels))
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(labels))]
    yt = nice_ticks(max(totals, default=0))
    ymax = yt[-1]

    def y(v: float) -> float:
        return top + plot_h - v / ymax * plot_h

    body = _y_axis(yt, left, width - right, y, _fmt_tick)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.78)
    for i, name in enumerate(labels):
        x = left + i * slot + (slot - bar_w) / 2
        base = 0.0
        tip = ", ".join(f"{s.name} {int(s.values[i] or 0):,}" for s in series)
        parts = [f"<title>{_e(f'{name}: {totals[i]:,} posts ({tip})')}</title>"]
        for s in series:
            v = float(s.values[i] or 0)
            if v <= 0:
                continue
            y_top = y(base + v)
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y_top)}" width="{_n(bar_w)}" '
                f'height="{_n(y(base) - y_top)}" fill="{s.color}"/>'
            )
            base += v
        body.append(f"<g>{''.join(parts)}</g>")
    axis_y = top + plot_h
    body.append(
        f'<line x1="{left}" x2="{_n(width - right)}" y1="{_n(axis_y)}" y2="{_n(axis_y)}" '
        f'stroke="{MUTED}"/>'
    )
    for i, text in ticks:
        x = left + i * slot + slot / 2
        body.append(
            f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(axis_y)}" y2="{_n(axis_y + 4)}" '
            f'stroke="{MUTED}"/>'
            f'<text x="{_n(x)}" y="{_n(axis_y + 17)}" text-anchor="middle" fill="{TEXT}">'
            f"{_e(text)}</text>"
        )
    return _svg(width, height, label, body)


def hbars(
    items: Sequence[tuple[str, float, str]],
    label: str,
    highlight: str | None = None,
    width: float = 520,
    row_h: float = 26,
    label_w: float = 150,
) -> str:
    """Horizontal bars: (label, value, value text) per row, longest = full width."""
    value_w = 64
    top = 4
    height = top * 2 + row_h * len(items)
    vmax = max((v for _, v, _ in items), default=0) or 1
    span = width - label_w - value_w
    body = []
    for i, (name, v, text) in enumerate(items):
        y = top + i * row_h
        w = max(0.0, v / vmax * span)
        color = ACCENT if highlight is None or name == highlight else NEUTRAL
        weight = ' font-weight="600"' if highlight is not None and name == highlight else ""
        body.append(
            f"<g><title>{_e(f'{name}: {text}')}</title>"
            f'<text x="{_n(label_w - 8)}" y="{_n(y + row_h / 2 + 4)}" text-anchor="end" '
            f'fill="{TEXT}"{weight}>{_e(_short(name, 22))}</text>'
            f'<rect x="{_n(label_w)}" y="{_n(y + 4)}" width="{_n(max(w, 1))}" '
            f'height="{_n(row_h - 8)}" rx="2" fill="{color}"/>'
            f'<text x="{_n(label_w + w + 6)}" y="{_n(y + row_h / 2 + 4)}" fill="{TEXT}">'
            f"{_e(text)}</text></g>"
        )
    return _svg(width, height, label, body)


def stacked_hbars(
    items: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[tuple[str, str]],
    label: str,
    width: float = 1080,
    row_h: float = 26,
    label_w: float = 170,
) -> str:
    """100 % stacked horizontal bars: per row (label, values in `series` order)."""
    top, right = 4, 8
    height = top * 2 + row_h * len(items)
    span = width - label_w - right
    body = []
    for i, (name, values) in enumerate(items):
        y = top + i * row_h
        total = sum(values) or 1
        x = float(label_w)
        tip = ", ".join(
            f"{s} {v:,.0f} ({v / total:.0%})" for (s, _), v in zip(series, values, strict=True)
        )
        parts = [
            f"<title>{_e(f'{name}: {tip}')}</title>",
            f'<text x="{_n(label_w - 8)}" y="{_n(y + row_h / 2 + 4)}" text-anchor="end" '
            f'fill="{TEXT}">{_e(_short(name, 24))}</text>',
        ]
        for (_, color), v in zip(series, values, strict=True):
            w = v / total * span
            if w <= 0:
                continue
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y + 4)}" width="{_n(w)}" height="{_n(row_h - 8)}" '
                f'fill="{color}"/>'
            )
            if w >= 34:
                parts.append(
                    f'<text x="{_n(x + w / 2)}" y="{_n(y + row_h / 2 + 4)}" '
                    f'text-anchor="middle" fill="#fff">{v / total:.0%}</text>'
                )
            x += w
        body.append(f"<g>{''.join(parts)}</g>")
    return _svg(width, height, label, body)


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    label: str,
    unit: str = "",
    width: float = 520,
    height: float = 220,
) -> str:
    """Line per series with a dot per point; a None value breaks the line."""
    left, right, top, bottom = 44, 12, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(labels)
    values = [v for s in series for v in s.values if v is not None]
    yt = nice_ticks(max(values, default=0))
    ymax = yt[-1]

    slot = plot_w / max(1, n)

    def x(i: int) -> float:  # points centred in equal slots, so edge labels stay inside
        return left + slot * (i + 0.5)

    def y(v: float) -> float:
        return top + plot_h - v / ymax * plot_h

    body = _y_axis(yt, left, width - right, y, _fmt_tick)
    every = max(1, math.ceil(n / 7))
    for i, text in enumerate(labels):
        if i % every == 0:
            body.append(
                f'<text x="{_n(x(i))}" y="{_n(top + plot_h + 17)}" text-anchor="middle" '
                f'fill="{TEXT}">{_e(text)}</text>'
            )
    for s in series:
        d, pen = [], "M"
        for i, v in enumerate(s.values):
            if v is None:
                pen = "M"
                continue
            d.append(f"{pen}{_n(x(i))},{_n(y(v))}")
            pen = "L"
        if d:
            dash = ' stroke-dasharray="5 4"' if s.dash else ""
            body.append(
                f'<path d="{" ".join(d)}" fill="none" stroke="{s.color}" stroke-width="2.2" '
                f'stroke-linejoin="round"{dash}/>'
            )
        for i, v in enumerate(s.values):
            if v is not None:
                body.append(
                    f'<circle cx="{_n(x(i))}" cy="{_n(y(v))}" r="3.2" fill="{s.color}">'
                    f"<title>{_e(f'{labels[i]}: {s.name} {v:g}{unit}')}</title></circle>"
                )
    return _svg(width, height, label, body)
