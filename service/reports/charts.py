"""Small self-contained SVG charts (no JavaScript, no assets fetched at view time)."""

from __future__ import annotations

from html import escape

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """A one-line text chart for Markdown; gaps for missing values."""
    present = [v for v in values if v is not None]
    if not present:
        return ""
    lo, hi = min(present), max(present)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else BARS[round((v - lo) / span * (len(BARS) - 1))]
                   for v in values)


def column_chart(points: list[tuple[str, float]], title: str, width: int = 560,
                 height: int = 180, color: str = "#4a7bd0") -> str:
    """Vertical bars, one per label (e.g. messages per day)."""
    top = max((v for _, v in points), default=0) or 1
    n = max(len(points), 1)
    slot = (width - 40) / n
    bars = []
    every = _label_step(len(points))
    for i, (label, value) in enumerate(points):
        h = (height - 50) * value / top
        x = 30 + i * slot
        bars.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{height - 25 - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{escape(label)}: {value:g}</title></rect>')
        if i % every == 0:
            bars.append(f'<text x="{x + slot / 2:.1f}" y="{height - 10}" font-size="10" '
                        f'text-anchor="middle">{escape(label[-5:])}</text>')
    return _svg(title, width, height, "".join(bars), f"max {top:g}")


def line_chart(points: list[tuple[str, float | None]], title: str, lo: float = -1.0,
               hi: float = 1.0, width: int = 560, height: int = 180) -> str:
    """A line over a fixed range with a zero rule (e.g. the sentiment index per day)."""
    n = max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return 30 + i * (width - 50) / n, 20 + (height - 45) * (hi - v) / (hi - lo)

    coords = [xy(i, v) for i, (_, v) in enumerate(points) if v is not None]
    zero_y = xy(0, 0.0)[1]
    body = (f'<line x1="30" x2="{width - 20}" y1="{zero_y:.1f}" y2="{zero_y:.1f}" '
            'stroke="#bbb" stroke-dasharray="4 3"/>')
    if coords:
        body += ('<polyline fill="none" stroke="#d0644a" stroke-width="2" points="'
                 + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        body += "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#d0644a">'
                        f"<title>{escape(label)}: {v:+.2f}</title></circle>"
                        for (x, y), (label, v) in zip(coords, [p for p in points
                                                              if p[1] is not None], strict=True))
    every = _label_step(len(points))
    for i, (label, _) in enumerate(points):
        if i % every:
            continue
        body += (f'<text x="{xy(i, 0)[0]:.1f}" y="{height - 8}" font-size="10" '
                 f'text-anchor="middle">{escape(label[-5:])}</text>')
    return _svg(title, width, height, body, f"{lo:+g} … {hi:+g}")


def bar_chart(rows: list[tuple[str, float]], title: str, width: int = 560) -> str:
    """Horizontal bars with their labels (e.g. top topics by messages)."""
    top = max((v for _, v in rows), default=0) or 1
    height = 30 + 22 * len(rows)
    body = ""
    for i, (label, value) in enumerate(rows):
        y = 25 + i * 22
        w = (width - 260) * value / top
        body += (f'<text x="5" y="{y + 12}" font-size="11">{escape(label[:38])}</text>'
                 f'<rect x="230" y="{y}" width="{w:.1f}" height="15" fill="#5aa36b"/>'
                 f'<text x="{235 + w:.1f}" y="{y + 12}" font-size="11">{value:g}</text>')
    return _svg(title, width, height, body, "")


def _label_step(n: int, most: int = 10) -> int:
    """Label every k-th point so that at most ``most`` labels share the axis."""
    return max(1, -(-n // most))


def _svg(title: str, width: int, height: int, body: str, note: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">'
            f'<text x="5" y="13" font-size="12" font-weight="bold">{escape(title)}</text>'
            f'<text x="{width - 5}" y="13" font-size="10" text-anchor="end" fill="#777">'
            f"{escape(note)}</text>{body}</svg>")
