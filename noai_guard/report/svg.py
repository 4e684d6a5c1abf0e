"""Internal: inline SVG charts for the HTML report, drawn without any library.

Every label comes from audit data and is escaped (``html.escape`` with
``quote=True``) before it goes into the markup; the only attributes built
from data are numbers this module computes.  Colours come from CSS classes
(``c-<series>``) defined in the report's stylesheet, so the charts follow the
print stylesheet too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .htmlutil import Markup

#: Series drawn by the charts, in stacking order.
SERIES: tuple[str, ...] = ("skipped", "dropped", "flagged", "allowed", "unknown", "volume")


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _fmt(n: float) -> str:
    return f"{int(n):,}"


def _short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _css(series: str) -> str:
    return "c-" + (series if series in SERIES else "other")


def _svg_open(title: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    )


def hbar_chart(
    title: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    *,
    width: int = 540,
    label_width: int = 170,
    row_height: int = 22,
) -> Markup:
    """Horizontal stacked bars: one row per label, segments per series."""
    if not rows:
        return Markup(f'<p class="empty">{_e(title)}: no data.</p>')
    legend_series = [s for s in SERIES if any(v for _, segs in rows for ss, v in segs if ss == s)]
    top = 28
    h = top + row_height * len(rows) + 8
    bar_w = width - label_width - 70
    peak = max((sum(v for _, v in segs) for _, segs in rows), default=0) or 1
    out = [
        _svg_open(title, width, h),
        f"<title>{_e(title)}</title>",
    ]
    x = label_width
    for s in legend_series:
        out.append(f'<rect class="{_css(s)}" x="{x}" y="6" width="10" height="10"/>')
        out.append(f'<text class="legend" x="{x + 14}" y="15">{_e(s)}</text>')
        x += 14 + 8 * len(s) + 16
    for i, (label, segs) in enumerate(rows):
        y = top + i * row_height
        total = sum(v for _, v in segs)
        out.append("<g>")
        out.append(f"<title>{_e(label)}: {_fmt(total)}</title>")
        out.append(
            f'<text class="label" x="{label_width - 6}" y="{y + row_height * 0.68:.1f}" '
            f'text-anchor="end">{_e(_short(label, 26))}</text>'
        )
        x0 = float(label_width)
        for s, v in segs:
            if v <= 0:
                continue
            w = max(bar_w * v / peak, 1.0)
            out.append(
                f'<rect class="{_css(s)}" x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_height - 6}"/>'
            )
            x0 += w
        out.append(
            f'<text class="value" x="{x0 + 4:.1f}" y="{y + row_height * 0.68:.1f}">{_fmt(total)}</text>'
        )
        out.append("</g>")
    out.append("</svg>")
    return _figure(title, "".join(out))


def _figure(title: str, svg: str) -> Markup:
    return Markup(f"<figure><figcaption>{_e(title)}</figcaption>{svg}</figure>")


def column_chart(
    title: str,
    buckets: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    *,
    width: int = 1080,
    height: int = 240,
) -> Markup:
    """Vertical stacked columns over time buckets (labels are bucket starts)."""
    if not buckets:
        return Markup(f'<p class="empty">{_e(title)}: no data.</p>')
    left, right, top, bottom = 56, 10, 28, 40
    plot_w = width - left - right
    plot_h = height - top - bottom
    peak = max((sum(v for _, v in segs) for _, segs in buckets), default=0) or 1
    n = len(buckets)
    slot = plot_w / n
    bw = max(slot * 0.8, 1.0)
    legend_series = [s for s in SERIES if any(v for _, segs in buckets for ss, v in segs if ss == s)]
    out = [
        _svg_open(title, width, height),
        f"<title>{_e(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end">{_fmt(peak)}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    x = left
    for s in legend_series:
        out.append(f'<rect class="{_css(s)}" x="{x}" y="6" width="10" height="10"/>')
        out.append(f'<text class="legend" x="{x + 14}" y="15">{_e(s)}</text>')
        x += 14 + 8 * len(s) + 16
    for i, (label, segs) in enumerate(buckets):
        x0 = left + i * slot + (slot - bw) / 2
        y0 = float(top + plot_h)
        total = sum(v for _, v in segs)
        out.append(f"<g><title>{_e(label)}: {_fmt(total)}</title>")
        for s, v in segs:
            if v <= 0:
                continue
            hgt = max(plot_h * v / peak, 0.5)
            y0 -= hgt
            out.append(
                f'<rect class="{_css(s)}" x="{x0:.1f}" y="{y0:.1f}" width="{bw:.1f}" height="{hgt:.1f}"/>'
            )
        out.append("</g>")
    ticks = sorted({0, n // 2, n - 1})
    for i in ticks:
        cx = left + i * slot + slot / 2
        out.append(
            f'<text class="tick" x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{_e(_short(buckets[i][0], 19))}</text>"
        )
    out.append("</svg>")
    return _figure(title, "".join(out))
