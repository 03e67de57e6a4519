"""Charts of the member's pages as geometry for server-rendered SVG (templates/_charts.html).

Pure functions: numbers in, shapes out; no jinja, no I/O. Nothing here needs JavaScript, so a
chart can never break a page. Amounts stay Decimal (the template formats them as `$ 1.234,50`);
only the drawing coordinates are floats.

Colours are from the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies) and never carry the meaning alone: every bar is labelled with its name and amount,
and the series of a line chart differ in dash pattern and marker too, with a legend in words.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
ZERO = Decimal("0")
MAX_POINTS = 400  # a statement may cover 3 660 days; more points would not show on a phone


@dataclass
class Bar:
    label: str
    value: Decimal
    colour: str
    y: float
    width: float


@dataclass
class BarChart:
    title: str
    bars: list
    width: int
    height: int
    label_width: int
    bar_height: int
    missing: list = field(default_factory=list)


def composition(totals, unavailable=(), width=340):
    """Horizontal bars of what the member holds and owes: savings, term deposits, certificados de
    aportación (when the member has any), loans.

    A section whose service did not answer is left out and named in `missing` (the page says it
    is not available), never drawn as zero.
    """
    wanted = (
        ("savings", "savings", "Ahorros", OKABE_ITO["blue"]),
        ("deposits", "deposits", "Plazo fijo", OKABE_ITO["green"]),
        ("loans", "loans_outstanding", "Saldo de créditos", OKABE_ITO["vermillion"]),
    )
    present, missing = [], []
    for section, key, label, colour in wanted:
        value = totals.get(key)
        if section in unavailable or value is None:
            missing.append(label)
        else:
            present.append((label, Decimal(str(value)), colour))
        shares = totals.get("shares")
        if key == "deposits" and shares is not None and Decimal(str(shares)):
            # the member's capital (certificados de aportación), beside what they hold; missing
            # with the savings (the same service), when "Ahorros" already says so
            present.append(
                ("Certificados de aportación", Decimal(str(shares)), OKABE_ITO["purple"])
            )
    # each bar under its name (a name never competes with the bar for width on a phone)
    label_width, label_room, bar_height, gap, value_room = 2, 20, 24, 12, 130
    room = width - label_width - value_room
    biggest = max((abs(v) for _, v, _ in present), default=ZERO)
    bars = []
    for index, (label, value, colour) in enumerate(present):
        share = float(abs(value) / biggest) if biggest else 0.0
        top = gap + label_room + index * (label_room + bar_height + gap)
        bars.append(Bar(label, value, colour, top, round(room * share, 1)))
    height = gap + len(bars) * (label_room + bar_height + gap)
    return BarChart(
        title="Composición de su posición",
        bars=bars,
        width=width,
        height=max(height, 40),
        label_width=label_width,
        bar_height=bar_height,
        missing=missing,
    )


@dataclass
class Series:
    name: str
    colour: str
    dash: str  # SVG stroke-dasharray ("" for a solid line)
    marker: str  # "circle" or "square": a second cue beside colour and dash
    points: list  # [(x, Decimal)]
    path: str = ""
    markers: list = field(default_factory=list)


@dataclass
class Tick:
    position: float
    value: object  # Decimal on the y axis; a date or an int on the x axis


@dataclass
class LineChart:
    title: str
    series: list
    y_ticks: list
    x_ticks: list
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    zero_y: float | None
    facts: dict = field(default_factory=dict)  # what the accessible description tells
    rows: list = field(default_factory=list)  # the chart's data as a table, when not on the page


def nice_step(span, wanted_ticks=4):
    """A round step (1, 2 or 5 × 10^k) giving about `wanted_ticks` intervals over `span`."""
    span = Decimal(str(span))
    if span <= 0:
        return Decimal(1)
    raw = span / wanted_ticks
    power = Decimal(10) ** (raw.adjusted())
    for multiple in (1, 2, 5, 10):
        step = power * multiple
        if step >= raw:
            return step
    return power * 10


def y_axis(values, wanted_ticks=4):
    """(low, high, ticks) covering every value and zero, on round numbers."""
    low = min([ZERO, *values])
    high = max([ZERO, *values])
    if low == high:
        high = low + 1
    step = nice_step(high - low, wanted_ticks)
    start = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    end = (high / step).to_integral_value(rounding="ROUND_CEILING") * step
    ticks = []
    value = start
    while value <= end:
        ticks.append(value)
        value += step
    return start, end, ticks


def downsample(points, limit=MAX_POINTS):
    """At most about `limit` points keeping the first, the last, and the lowest and highest of
    each stretch (so a dip or a peak never disappears from the line)."""
    if len(points) <= limit:
        return list(points)
    buckets = max(1, (limit - 2) // 2)
    inner = points[1:-1]
    size = -(-len(inner) // buckets)
    kept = [points[0]]
    for start in range(0, len(inner), size):
        chunk = inner[start : start + size]
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        kept.extend(sorted({low, high}, key=lambda p: p[0]))
    kept.append(points[-1])
    return kept


# Charts are drawn narrow and shown at most a little wider (ux.css): an SVG scales its text with
# it, and on a 360 px phone (about 310 px for the chart) its 15-unit text must stay >= 12 px.
CHART_TEXT = 15


def line_chart(title, series, x_low, x_high, x_ticks, width=360, height=210, step=False):
    """Lay out `series` (each a Series with points (x, Decimal)) on shared axes.

    `x_ticks` are (x, label value) pairs; `step` draws a staircase (a balance stays put between
    movements instead of sliding from one to the next).
    """
    left, right, top, bottom = 84, 38, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for _, v in s.points]
    low, high, y_values = y_axis(values)
    x_span = (x_high - x_low) or 1

    def sx(x):
        return round(left + plot_w * (x - x_low) / x_span, 1)

    def sy(v):
        return round(top + plot_h * float((high - v) / (high - low)), 1)

    for one in series:
        one.points = downsample(one.points)
        coords = []
        previous_y = None
        for x, v in one.points:
            if step and previous_y is not None:
                coords.append((sx(x), previous_y))
            previous_y = sy(v)
            coords.append((sx(x), previous_y))
        one.path = " ".join(
            ("M" if i == 0 else "L") + f"{x:g},{y:g}" for i, (x, y) in enumerate(coords)
        )
        # markers only where they can be told apart
        if len(one.points) <= 60:
            one.markers = [(sx(x), sy(v)) for x, v in one.points]
    return LineChart(
        title=title,
        series=series,
        y_ticks=[Tick(sy(v), v) for v in y_values],
        x_ticks=[Tick(sx(x), label) for x, label in x_ticks],
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        zero_y=sy(ZERO) if low < 0 < high else None,
    )


def month_ticks(date_from, date_to, most=4):
    """(day offset, date) of the first day of each month in the range, thinned to `most`, plus
    the range's own ends when there is room."""
    days = (date_to - date_from).days
    starts = []
    current = date(date_from.year, date_from.month, 1)
    while current <= date_to:
        if current >= date_from:
            starts.append(current)
        current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    if days <= 45 or not starts:
        # a short range: its ends (and the middle) say more than month starts
        middle = date_from + timedelta(days=days // 2)
        chosen = sorted({date_from, middle, date_to})
    else:
        every = -(-len(starts) // most)
        chosen = starts[::every]
    return [((d - date_from).days, d) for d in chosen]


def balance_chart(daily, opening_balance, date_from, date_to, account_number):
    """The running balance over the chosen range, one point per day with movements.

    `daily` is [(date, Decimal end-of-day balance)] in date order; the line starts at the opening
    balance on `date_from` and runs flat to `date_to` after the last movement.
    """
    opening = Decimal(str(opening_balance))
    points = [(0, opening)]
    for day, balance in daily:
        points.append(((day - date_from).days, Decimal(str(balance))))
    last_x = (date_to - date_from).days
    if points[-1][0] < last_x:
        points.append((last_x, points[-1][1]))
    lowest = min(points, key=lambda p: p[1])
    highest = max(points, key=lambda p: p[1])
    series = Series("Saldo", OKABE_ITO["blue"], "", "circle", points)
    chart = line_chart(
        f"Saldo de la cuenta {account_number}",
        [series],
        0,
        last_x,
        month_ticks(date_from, date_to, most=3),  # three dates fit the narrow chart
        step=True,
    )
    chart.rows = [(day, Decimal(str(balance))) for day, balance in daily]
    chart.facts = {
        "opening": opening,
        "closing": points[-1][1],
        "lowest": lowest[1],
        "lowest_on": date_from + timedelta(days=lowest[0]),
        "highest": highest[1],
        "highest_on": date_from + timedelta(days=highest[0]),
    }
    return chart


def schedule_chart(rows):
    """Principal and interest of each installment of a (simulated) loan schedule."""
    principal = [(int(r["number"]), Decimal(str(r["principal"]))) for r in rows]
    interest = [(int(r["number"]), Decimal(str(r["interest"]))) for r in rows]
    count = len(rows)
    every = max(1, -(-count // 5))
    numbers = [n for n in range(1, count + 1) if n == 1 or n % every == 0 or n == count]
    if len(numbers) > 1 and numbers[-1] - numbers[-2] < every / 2:
        numbers.pop(-2)  # the last label would sit on the one before it
    return line_chart(
        "Capital e interés por cuota",
        [
            Series("Capital", OKABE_ITO["blue"], "", "circle", principal),
            Series("Interés", OKABE_ITO["orange"], "7 4", "square", interest),
        ],
        1,
        max(count, 2),
        [(n, n) for n in numbers],
    )
