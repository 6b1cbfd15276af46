"""The soak's plot: RSS over time, of the whole process tree and of each process, as one
standalone SVG file drawn with the report's line charts (`sinks.report.charts.lines`)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Protocol

from sinks.report import charts

PALETTE = (
    "#2b6cb0",  # the tree
    "#d64545",
    "#2f9e6e",
    "#d69e2e",
    "#805ad5",
    "#1a202c",
    "#b83280",
    "#00a3c4",
    "#8c6d31",
    "#718096",
)
MAX_POINTS = 60  # points per line: samples are averaged over equal spans of time


class RssSample(Protocol):
    @property
    def t_s(self) -> float: ...
    @property
    def name(self) -> str: ...
    @property
    def rss_mb(self) -> float: ...


def _buckets(samples: Sequence[RssSample]) -> tuple[list[str], dict[str, list[float | None]]]:
    """Time labels and, per process name plus `tree`, the mean RSS over each run of
    consecutive sampling instants (at most `MAX_POINTS` runs, of equal length)."""
    times = sorted({s.t_s for s in samples})
    if not times:
        return [], {}
    n = min(MAX_POINTS, len(times))
    index = {t: i for i, t in enumerate(times)}

    def bucket(t: float) -> int:
        return index[t] * n // len(times)

    sums: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    tree: dict[float, float] = {}
    for s in samples:
        tree[s.t_s] = tree.get(s.t_s, 0.0) + s.rss_mb
    points = [(s.name, s.t_s, s.rss_mb) for s in samples] + [
        ("tree", t, mb) for t, mb in tree.items()
    ]
    for name, t, mb in points:
        sums.setdefault(name, [0.0] * n)[bucket(t)] += mb
        counts.setdefault(name, [0] * n)[bucket(t)] += 1
    series = {
        name: [
            round(v / c, 1) if c else None for v, c in zip(sums[name], counts[name], strict=True)
        ]
        for name in sums
    }
    starts = [times[-(-b * len(times) // n)] for b in range(n)]  # each run's first instant
    digits = 0 if times[-1] >= 600 else 1
    labels = [f"{t / 60:.{digits}f}m" for t in starts]
    return labels, series


def rss_svg(samples: Sequence[RssSample], warmup_s: float, title: str) -> str:
    """A standalone SVG document: the tree's total RSS on top, each process's below, with a
    legend; minutes since the source started on the x axis (the warm-up ends at `warmup_s`)."""
    labels, series = _buckets(samples)
    width, height = 760.0, 240.0
    names = sorted(n for n in series if n != "tree")
    top = charts.lines(
        labels,
        [charts.Series("tree (sum of RSS)", PALETTE[0], series.get("tree", []))],
        "RSS of the whole process tree, MB",
        unit=" MB",
        width=width,
        height=height,
    )
    bottom = charts.lines(
        labels,
        [
            charts.Series(name, PALETTE[(i + 1) % len(PALETTE)], series[name])
            for i, name in enumerate(names)
        ],
        "RSS per process, MB",
        unit=" MB",
        width=width,
        height=height,
    )
    legend_y = 40 + 2 * height + 30
    legend = []
    for i, name in enumerate(names):
        x, y = 20 + (i % 5) * 148, legend_y + (i // 5) * 18
        color = PALETTE[(i + 1) % len(PALETTE)]
        legend.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(name)}</text>'
        )
    total_h = legend_y + 18 * ((len(names) + 4) // 5) + 10
    note = f"tree total (top), each process (bottom); warm-up: the first {warmup_s / 60:g} min"

    def placed(svg: str, y: float) -> str:
        return svg.replace("<svg ", f'<svg x="0" y="{y}" width="{width}" height="{height}" ', 1)

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" font-family="sans-serif" font-size="11">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f'<text x="20" y="18" font-size="13" font-weight="bold">{escape(title)}</text>'
        f'<text x="20" y="34" fill="#4a5568">{escape(note)}</text>'
        f"{placed(top, 40)}{placed(bottom, 40 + height + 10)}{''.join(legend)}</svg>\n"
    )
