"""Charts drawn on the server as SVG: no JavaScript to load, readable without it, printable.

Each chart is an `<svg role="img">` with a title and a description that says what it shows;
the same figures are always in a table beside it (and downloadable as CSV). A chart is drawn
twice, for a wide screen and for a phone (`chart-wide`, `chart-narrow`: the stylesheet shows
one): both scale to the width of their card (a `viewBox`, no fixed size), and the phone's is
laid out for its width so that its labels stay as large as the page's text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from babel.numbers import format_decimal
from markupsafe import Markup, escape

from amends.kit.locale import babel_locale

# Colours with at least 3:1 contrast against white (WCAG 1.4.11, graphical objects).
PALETTE = ("#0b5cad", "#c2410c", "#1e6b34", "#7b2cbf")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    """A round number at or above `value` for the top of an axis."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


# The widths charts are drawn for (units of their viewBox: CSS pixels at these widths).
WIDE, NARROW = 720, 340
LINE = 16  # one line of 12 px labels


def _legend(series: Sequence[Series], x: float, y: float, *, stacked: bool = False) -> str:
    """The series' names and colours, side by side, or one under another (`stacked`)."""
    parts = []
    left = x
    for index, item in enumerate(series):
        if stacked:
            parts.append(
                f'<rect x="{x}" y="{y - 9 + index * LINE}" width="12" height="12" '
                f'fill="{PALETTE[index % len(PALETTE)]}"/>'
                f'<text x="{x + 18}" y="{y + 1 + index * LINE}">{escape(item.name)}</text>')
            continue
        if index:
            # Each entry starts after the previous one's name (about 7 units a character at
            # 12 px): French names are longer than a fixed step allows.
            left += 18 + 7 * len(series[index - 1].name) + 24
        parts.append(
            f'<rect x="{left}" y="{y - 9}" width="12" height="12" '
            f'fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{left + 18}" y="{y + 1}">{escape(item.name)}</text>')
    return "".join(parts)


def _same(text: str) -> str:
    return text


def _label(value: float, tag: str | None) -> str:
    """A figure on an axis or a bar, in the reader's locale ('1,250' / '1 250')."""
    pattern = "#,##0" if value >= 10 or value == int(value) else "#,##0.0"
    return format_decimal(value, pattern, locale=babel_locale(tag))


def _signed(value: float, tag: str | None) -> str:
    return format_decimal(value, "+#,##0.0;-#,##0.0", locale=babel_locale(tag))


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str,
               tag: str | None = None, translate: Callable[[str], str] = _same) -> Markup:
    """One line per series over the labels (days), with a y axis and a few x labels.
    `tag` is the reader's locale, `translate` their gettext (for the description)."""
    _ = translate
    description = _("%(count)s days") % {"count": len(labels)} + "; " + "; ".join(
        _("%(series)s: %(total)s in all") % {
            "series": s.name, "total": _label(sum(s.values), tag)} for s in series)
    return Markup(_line(labels, series, title=title, description=description, tag=tag,
                        width=WIDE, height=260, ticks=6)
                  + _line(labels, series, title=title, description=description, tag=tag,
                          width=NARROW, height=220, ticks=3, narrow=True))


def _line(labels: Sequence[str], series: Sequence[Series], *, title: str, description: str,
          tag: str | None, width: int, height: int, ticks: int, narrow: bool = False) -> str:
    legend_h = LINE * len(series) + 6 if narrow else 0
    left, right, top, bottom = 44, 24, 28 + legend_h, 36
    height += legend_h
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((v for s in series for v in s.values), default=0))
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [_svg_open(width, height, title, description, narrow=narrow)]
    for tick in range(5):
        value = peak * tick / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f'{_label(value, tag)}</text>')
    step = max(1, len(labels) // ticks)
    for i in range(0, len(labels), step):
        anchor = ("start" if i == 0 and narrow else
                  "end" if i == len(labels) - 1 else "middle")
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" '
                     f'text-anchor="{anchor}">{escape(labels[i][5:])}</text>')
    for index, item in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(item.values))
        parts.append(f'<polyline fill="none" stroke="{PALETTE[index % len(PALETTE)]}" '
                     f'stroke-width="2" points="{points}"/>')
    parts.append(_legend(series, 8 if narrow else left, 14, stacked=narrow))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(labels: Sequence[str], series: Sequence[Series], *, title: str,
              unit: str = "", tag: str | None = None) -> Markup:
    """Horizontal grouped bars: one group per label, one bar per series."""
    description = "; ".join(
        f"{label}: " + ", ".join(f"{s.name} {_label(s.values[i], tag)}{unit}" for s in series)
        for i, label in enumerate(labels))
    return Markup(_bars(labels, series, title=title, description=description, unit=unit,
                        tag=tag, width=WIDE)
                  + _bars(labels, series, title=title, description=description, unit=unit,
                          tag=tag, width=NARROW, narrow=True))


def _bars(labels: Sequence[str], series: Sequence[Series], *, title: str, description: str,
          unit: str, tag: str | None, width: int, narrow: bool = False) -> str:
    """Wide: each group's name left of its bars. Narrow: above them, over the whole width."""
    bar, gap = 12, 10
    named = LINE if narrow else 0  # the line of each group's name, on a phone
    left, right = (8, 64) if narrow else (150, 70)
    top = 28 + (LINE * len(series) if narrow else 0)
    group = named + bar * len(series) + gap
    height = top + group * max(len(labels), 1) + 8
    plot_w = width - left - right
    peak = _nice_max(max((v for s in series for v in s.values), default=0))
    parts = [_svg_open(width, height, title, description, narrow=narrow)]
    for i, label in enumerate(labels):
        group_top = top + i * group
        if narrow:
            parts.append(f'<text x="{left}" y="{group_top + 11}">{escape(label[:40])}</text>')
        else:
            parts.append(f'<text x="{left - 8}" y="{group_top + group / 2:.1f}" '
                         f'text-anchor="end">{escape(label[:22])}</text>')
        for index, item in enumerate(series):
            value = item.values[i]
            length = plot_w * value / peak
            bar_top = group_top + named + index * bar
            parts.append(
                f'<rect x="{left}" y="{bar_top}" width="{length:.1f}" height="{bar - 2}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"/>'
                f'<text x="{left + length + 4:.1f}" y="{bar_top + bar - 3}">'
                f'{_label(value, tag)}{escape(unit)}</text>')
    parts.append(_legend(series, left, 14, stacked=narrow))
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int, title: str, description: str, *,
              narrow: bool = False) -> str:
    return (f'<svg class="chart chart-{"narrow" if narrow else "wide"}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title><desc>{escape(description)}</desc>")


def interval_chart(labels: Sequence[str], estimates: Sequence[float],
                   lows: Sequence[float], highs: Sequence[float], *, title: str,
                   unit: str = " pts", tag: str | None = None,
                   translate: Callable[[str], str] = _same) -> Markup:
    """Point estimates with their intervals (e.g. uplift over a hold-out), around zero."""
    _ = translate
    description = "; ".join(
        _("%(label)s: %(estimate)s (%(low)s to %(high)s)") % {
            "label": label, "estimate": _signed(e, tag) + unit, "low": _signed(lo, tag),
            "high": _signed(hi, tag)}
        for label, e, lo, hi in zip(labels, estimates, lows, highs, strict=True))
    return Markup(_intervals(labels, estimates, lows, highs, title=title,
                             description=description, tag=tag, width=WIDE)
                  + _intervals(labels, estimates, lows, highs, title=title,
                               description=description, tag=tag, width=NARROW, narrow=True))


def _intervals(labels: Sequence[str], estimates: Sequence[float], lows: Sequence[float],
               highs: Sequence[float], *, title: str, description: str, tag: str | None,
               width: int, narrow: bool = False) -> str:
    """Wide: each row's name left of its interval. Narrow: above it, over the whole width."""
    left, right, top = (12, 12, 16) if narrow else (180, 20, 16)
    row = 26 + (LINE if narrow else 0)
    height = top + row * max(len(labels), 1) + 24
    span = max([abs(v) for v in (*lows, *highs)] + [0.01])
    plot_w = width - left - right

    def x(value: float) -> float:
        return left + plot_w * (value + span) / (2 * span)

    parts = [_svg_open(width, height, title, description, narrow=narrow)]
    parts.append(f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 6}" '
                 f'y2="{height - 20}" class="grid"/>'
                 f'<text x="{x(0):.1f}" y="{height - 6}" text-anchor="middle">0</text>'
                 f'<text x="{left}" y="{height - 6}">{_signed(-span, tag)}</text>'
                 f'<text x="{width - right}" y="{height - 6}" text-anchor="end">'
                 f'{_signed(span, tag)}</text>')
    for i, label in enumerate(labels):
        y = top + i * row + row / 2 + (LINE / 2 if narrow else 0)
        colour = PALETTE[2] if lows[i] > 0 else PALETTE[1] if highs[i] < 0 else PALETTE[0]
        name = (f'<text x="{left}" y="{y - 10:.1f}">{escape(label[:40])}</text>' if narrow
                else f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                f'{escape(label[:28])}</text>')
        parts.append(
            name
            + f'<line x1="{x(lows[i]):.1f}" x2="{x(highs[i]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<circle cx="{x(estimates[i]):.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)
