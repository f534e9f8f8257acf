"""Bar-chart geometry for the reports' SVG charts: numbers in, rectangles and labels out.

The template draws the SVG from these (``templates/reports/_charts.html``). No charting library: a horizontal or
vertical bar chart is a few lines of arithmetic, and WeasyPrint renders inline SVG itself, without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

Number = int | float | Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    label_width: int
    bars: list[Bar]
    empty: bool


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def horizontal_bars(
    rows: Sequence[tuple[str, Number]],
    value_text: Callable[[Number], str],
    width: int = 640,
    row_height: int = 18,
    label_width: int = 230,
    value_width: int = 90,
    label_chars: int = 38,
) -> Chart:
    """One bar per row, longest = full width; labels on the left, values on the right. Rows keep their order."""
    top = max((float(value) for _label, value in rows), default=0.0)
    span = width - label_width - value_width
    bars = []
    for index, (label, value) in enumerate(rows):
        length = span * float(value) / top if top > 0 else 0.0
        bars.append(
            Bar(
                label=_shorten(label, label_chars),
                value_text=value_text(value),
                x=label_width,
                y=index * row_height + 2,
                width=max(length, 1.0 if value else 0.0),
                height=row_height - 5,
            )
        )
    return Chart(width, max(len(rows), 1) * row_height + 4, label_width, bars, empty=not rows or top <= 0)


def vertical_bars(
    rows: Sequence[tuple[str, Number]],
    value_text: Callable[[Number], str],
    width: int = 640,
    height: int = 150,
    axis_height: int = 18,
    value_height: int = 14,
) -> Chart:
    """Columns over time (one per month): labels under the columns, values above them."""
    top = max((float(value) for _label, value in rows), default=0.0)
    slot = width / max(len(rows), 1)
    plot = height - axis_height - value_height
    bars = []
    for index, (label, value) in enumerate(rows):
        length = plot * float(value) / top if top > 0 else 0.0
        bars.append(
            Bar(
                label=label,
                value_text=value_text(value) if value else "",
                x=index * slot + slot * 0.15,
                y=value_height + plot - length,
                width=slot * 0.7,
                height=length,
            )
        )
    return Chart(width, height, 0, bars, empty=not rows or top <= 0)
