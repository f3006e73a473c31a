"""The charts of a printable statement, drawn server-side as inline SVG.

No script and nothing fetched: the page must print and work offline (API.md
"Audit reads": statements as HTML). Every bar carries its exact figure in
``data-value`` (the statement's own 10-place string, or an exact sum of
them), so what the chart shows can be checked against the statement; the
geometry is computed in Decimal too, only rounded to hundredths of a pixel.
ElementTree builds the markup, so every label is escaped.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from xml.etree import ElementTree as ET

from django.utils.safestring import SafeString, mark_safe

from core.money import exact_context

WIDTH = 960
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 90, 20, 36, 46
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
TICKS = 4
MAX_BAR_W = Decimal(80)
PIXEL = Decimal("0.01")
# A statement longer than a month (quarter, year) is charted per month.
DAILY_UP_TO_DAYS = 31
TIERS = ("frontier", "mid", "light")


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    label: str
    values: list[Decimal]


def _px(value: Decimal) -> str:
    return str(value.quantize(PIXEL, rounding=ROUND_HALF_EVEN))


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 x 10^k that is >= value (value > 0), so the
    axis ticks are round numbers."""
    exponent = value.adjusted()
    for _ in range(2):
        for step in (1, 2, 5):
            candidate = Decimal(step).scaleb(exponent)
            if candidate >= value:
                return candidate
        exponent += 1
    return Decimal(10).scaleb(exponent)


def _tick_label(value: Decimal) -> str:
    """Ticks are exact quarters of a round number: 0, 1.25, 2.5, 3.75, 5."""
    return f"{value.normalize():f}"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    unit: str,
    categories: list[str],
    series: list[Series],
    labels: list[str] | None = None,
) -> SafeString:
    """Grouped vertical bars: one group per category, one bar per series.
    Negative values (a savings figure can be one) are drawn as zero height;
    their figure is still in ``data-value`` and the bar's tooltip.
    ``labels``: shorter axis labels for the categories (default: the
    categories themselves)."""
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "class": "chart",
            "id": chart_id,
            "aria-label": title,
        },
    )
    ET.SubElement(svg, "title").text = title
    values = [v for s in series for v in s.values]
    if not categories or not any(v > 0 for v in values):
        empty = ET.SubElement(
            svg, "text", {"x": str(WIDTH // 2), "y": str(HEIGHT // 2), "class": "chart-empty"}
        )
        empty.text = "Nothing to chart in this period."
        return mark_safe(ET.tostring(svg, encoding="unicode"))
    with exact_context():
        top = _nice_ceiling(max(values))
        _axis(svg, top, unit)
        group_w = Decimal(PLOT_W) / len(categories)
        bar_w = min(group_w * Decimal("0.8") / len(series), MAX_BAR_W)
        label_every = max(1, len(categories) // 16)
        for index, category in enumerate(categories):
            x0 = LEFT + group_w * index + (group_w - bar_w * len(series)) / 2
            for position, s in enumerate(series):
                value = s.values[index]
                height = max(Decimal(0), value) / top * PLOT_H
                bar = ET.SubElement(
                    svg,
                    "rect",
                    {
                        "class": f"bar bar-{s.key}",
                        "x": _px(x0 + bar_w * position),
                        "y": _px(TOP + PLOT_H - height),
                        "width": _px(bar_w),
                        "height": _px(height),
                        "data-series": s.key,
                        "data-category": category,
                        "data-value": f"{value:f}",
                    },
                )
                ET.SubElement(bar, "title").text = f"{category} · {s.label}: {value:f} {unit}"
            if index % label_every == 0:
                label = ET.SubElement(
                    svg,
                    "text",
                    {
                        "x": _px(x0 + bar_w * len(series) / 2),
                        "y": str(TOP + PLOT_H + 16),
                        "class": "chart-category",
                    },
                )
                label.text = (labels or categories)[index]
    _legend(svg, series)
    return mark_safe(ET.tostring(svg, encoding="unicode"))


def _axis(svg: ET.Element, top: Decimal, unit: str) -> None:
    for step in range(TICKS + 1):
        value = top * step / TICKS
        y = _px(TOP + PLOT_H - Decimal(PLOT_H) * step / TICKS)
        grid = {"x1": str(LEFT), "x2": str(LEFT + PLOT_W), "y1": y, "y2": y, "class": "chart-grid"}
        ET.SubElement(svg, "line", grid)
        tick = ET.SubElement(svg, "text", {"x": str(LEFT - 8), "y": y, "class": "chart-tick"})
        tick.text = _tick_label(value)
    caption = ET.SubElement(svg, "text", {"x": str(LEFT - 8), "y": "18", "class": "chart-tick"})
    caption.text = unit


def _legend(svg: ET.Element, series: list[Series]) -> None:
    x = LEFT
    for s in series:
        swatch = {"x": str(x), "y": "8", "width": "12", "height": "12", "class": f"bar bar-{s.key}"}
        ET.SubElement(svg, "rect", swatch)
        ET.SubElement(
            svg, "text", {"x": str(x + 18), "y": "18", "class": "chart-legend"}
        ).text = s.label
        x += 30 + 8 * len(s.label)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days)]


def cost_value_chart(*, daily: list[dict], period_start: date, period_end: date, currency: str):
    """What the customer paid (charges) against the value delivered, per
    local day, or per month for a quarter or a year. Days without records
    are drawn as zero. The fixed fee is per period, so no day carries it."""
    by_day = {row["day"]: row for row in daily}
    monthly = (period_end - period_start).days > DAILY_UP_TO_DAYS
    buckets: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"charges": Decimal(0), "value": Decimal(0)}
    )
    for day in _days(period_start, period_end):
        key = day.strftime("%Y-%m") if monthly else day.isoformat()
        row = by_day.get(day.isoformat(), {"charges": "0", "value": "0"})
        with exact_context():
            buckets[key]["charges"] += Decimal(row["charges"])
            buckets[key]["value"] += Decimal(row["value"])
    categories = list(buckets)
    step = "month" if monthly else "day"
    return bar_chart(
        chart_id="chart-cost-value",
        title=f"Charges vs value per {step} ({currency})",
        unit=currency,
        categories=categories,
        labels=None if monthly else [c[-2:] for c in categories],
        series=[
            Series(name, label, [buckets[c][name] for c in categories])
            for name, label in (("charges", "Charges"), ("value", "Value"))
        ],
    )


def cost_by_tier_chart(*, lines: list[dict]):
    """Provider cost (USD) per model tier, from the statement's lines."""
    cost: dict[str, Decimal] = defaultdict(Decimal)
    with exact_context():
        for line in lines:
            cost[line["tier"]] += Decimal(line["cost_usd"])
    tiers = [t for t in TIERS if t in cost] + sorted(set(cost) - set(TIERS))
    return bar_chart(
        chart_id="chart-cost-tier",
        title="Cost by model tier (USD)",
        unit="USD",
        categories=tiers,
        series=[Series("cost", "Cost", [cost[t] for t in tiers])],
    )


def savings_chart(*, savings_by_task_type: list[dict]):
    """Cost against the baseline model's cost per task type (DESIGN.md
    "Routing savings"); the gap between the bars is the saving."""
    tasks = [row["task_type"] for row in savings_by_task_type]
    return bar_chart(
        chart_id="chart-savings",
        title="Cost vs baseline per task type (USD)",
        unit="USD",
        categories=tasks,
        series=[
            Series(key, label, [Decimal(row[field]) for row in savings_by_task_type])
            for key, label, field in (
                ("cost", "Cost", "cost_usd"),
                ("baseline", "Baseline", "baseline_cost_usd"),
                ("savings", "Savings", "savings_usd"),
            )
        ],
    )


def roi_over_time_charts(*, periods: list[dict], currency: str) -> SafeString:
    """The contract's settled periods up to the statement (DESIGN.md
    "Period settlement"): value and charges per period as bars, and the ROI
    as a line on its own axis (it may be negative). ``periods``: dicts with
    ``period_start`` (date), ``value``, ``charges`` (Decimal) and ``roi``
    (Decimal or None), oldest first."""
    categories = [p["period_start"].strftime("%Y-%m") for p in periods]
    money = bar_chart(
        chart_id="chart-roi-money",
        title=f"Value and charges per settled period ({currency})",
        unit=currency,
        categories=categories,
        series=[
            Series(name, label, [p[name] for p in periods])
            for name, label in (("charges", "Charges"), ("value", "Value"))
        ],
    )
    return mark_safe(money + _roi_line(categories, [p["roi"] for p in periods]))


def _roi_line(categories: list[str], values: list[Decimal | None]) -> str:
    title = "ROI, (value - charges) / charges, per settled period"
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "class": "chart",
            "id": "chart-roi",
            "aria-label": title,
        },
    )
    ET.SubElement(svg, "title").text = title
    known = [v for v in values if v is not None]
    if not known or not any(known):
        empty = ET.SubElement(
            svg, "text", {"x": str(WIDTH // 2), "y": str(HEIGHT // 2), "class": "chart-empty"}
        )
        empty.text = "No ROI to chart (no charges in the settled periods)."
        return ET.tostring(svg, encoding="unicode")
    with exact_context():
        top = _nice_ceiling(max(abs(v) for v in known))
        bottom = -top if min(known) < 0 else Decimal(0)
        span = top - bottom

        def y_of(value: Decimal) -> Decimal:
            return TOP + PLOT_H * (top - value) / span

        for step in range(TICKS + 1):
            value = bottom + span * step / TICKS
            y = _px(y_of(value))
            line = {"x1": str(LEFT), "x2": str(LEFT + PLOT_W), "y1": y, "y2": y}
            ET.SubElement(svg, "line", {**line, "class": "chart-grid"})
            tick = ET.SubElement(svg, "text", {"x": str(LEFT - 8), "y": y, "class": "chart-tick"})
            tick.text = _tick_label(value)
        group_w = Decimal(PLOT_W) / len(categories)
        points = []
        for index, (category, value) in enumerate(zip(categories, values, strict=True)):
            x = LEFT + group_w * index + group_w / 2
            label = ET.SubElement(
                svg, "text", {"x": _px(x), "y": str(TOP + PLOT_H + 16), "class": "chart-category"}
            )
            label.text = category
            if value is None:
                continue
            points.append(f"{_px(x)},{_px(y_of(value))}")
            dot = ET.SubElement(
                svg,
                "circle",
                {
                    "class": "point point-roi",
                    "cx": _px(x),
                    "cy": _px(y_of(value)),
                    "r": "4",
                    "data-series": "roi",
                    "data-category": category,
                    "data-value": f"{value:f}",
                },
            )
            ET.SubElement(dot, "title").text = f"{category} · ROI: {value:f}"
        ET.SubElement(svg, "polyline", {"class": "line-roi", "points": " ".join(points)})
    return ET.tostring(svg, encoding="unicode")
