"""Chart geometry (gateway/web/charts.py) and its SVG (templates/_charts.html)."""

from datetime import date, timedelta
from decimal import Decimal

from gateway.web import charts
from gateway.web.render import environment

TOTALS = {
    "savings": "1234.50",
    "deposits": "5000.00",
    "assets": "6234.50",
    "loans_outstanding": "8000.00",
    "net": "-1765.50",
}


def test_composition_bars_are_proportional_and_keep_decimal_amounts():
    chart = charts.composition(TOTALS)
    assert [b.label for b in chart.bars] == ["Ahorros", "Plazo fijo", "Saldo de créditos"]
    assert [b.value for b in chart.bars] == [Decimal("1234.50"), Decimal("5000.00"), Decimal(8000)]
    assert all(isinstance(b.value, Decimal) for b in chart.bars)
    widest = max(b.width for b in chart.bars)
    assert chart.bars[2].width == widest
    assert abs(chart.bars[1].width / widest - 5000 / 8000) < 0.01
    # three different Okabe-Ito colours
    assert len({b.colour for b in chart.bars}) == 3
    assert {b.colour for b in chart.bars} <= set(charts.OKABE_ITO.values())


def test_certificados_de_aportacion_have_a_bar_of_their_own_when_the_member_has_them():
    chart = charts.composition({**TOTALS, "shares": "155.10"})
    assert [b.label for b in chart.bars] == [
        "Ahorros",
        "Plazo fijo",
        "Certificados de aportación",
        "Saldo de créditos",
    ]
    assert chart.bars[2].value == Decimal("155.10")
    assert len({b.colour for b in chart.bars}) == 4
    assert "Certificados de aportación" not in [
        b.label for b in charts.composition({**TOTALS, "shares": "0.00"}).bars
    ]


def test_a_section_that_did_not_answer_is_not_drawn_as_zero():
    chart = charts.composition({**TOTALS, "deposits": None}, unavailable=["deposits"])
    assert [b.label for b in chart.bars] == ["Ahorros", "Saldo de créditos"]
    assert chart.missing == ["Plazo fijo"]


def test_y_axis_is_round_and_covers_zero_and_every_value():
    low, high, ticks = charts.y_axis([Decimal("123.45"), Decimal("1980.10")])
    assert low == 0 and high >= Decimal("1980.10")
    assert ticks[0] == 0 and ticks[-1] == high
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in (Decimal(500), Decimal(1000))
    low, _, _ = charts.y_axis([Decimal("-250"), Decimal("800")])
    assert low <= Decimal("-250")


def test_downsampling_keeps_the_ends_and_the_extremes():
    points = [(i, Decimal(i % 97)) for i in range(5000)]
    points[2500] = (2500, Decimal("-999"))
    kept = charts.downsample(points, limit=200)
    assert len(kept) <= 202
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert (2500, Decimal("-999")) in kept
    assert [x for x, _ in kept] == sorted(x for x, _ in kept)


def test_balance_chart_covers_the_whole_range_as_a_staircase():
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    daily = [(date(2026, 1, 10), Decimal("150.00")), (date(2026, 2, 5), Decimal("90.00"))]
    chart = charts.balance_chart(daily, Decimal("100.00"), start, end, "4100234001")
    line = chart.series[0]
    assert line.points[0] == (0, Decimal("100.00"))
    assert line.points[-1] == ((end - start).days, Decimal("90.00"))  # flat to the cut-off
    assert chart.facts["lowest"] == Decimal("90.00")
    assert chart.facts["highest_on"] == date(2026, 1, 10)
    assert chart.rows == daily
    # staircase: each move is horizontal then vertical
    assert line.path.count("L") == 2 * (len(line.points) - 1)
    assert [t.value for t in chart.x_ticks] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]


def test_schedule_chart_tells_principal_from_interest_without_colour():
    rows = [
        {"number": n, "principal": f"{80 + n}.00", "interest": f"{40 - n}.00"} for n in range(1, 13)
    ]
    chart = charts.schedule_chart(rows)
    capital, interest = chart.series
    assert (capital.name, interest.name) == ("Capital", "Interés")
    assert capital.dash != interest.dash and capital.marker != interest.marker
    assert capital.colour != interest.colour
    assert chart.x_ticks[0].value == 1 and chart.x_ticks[-1].value == 12


def test_svg_has_an_accessible_name_a_caption_and_no_inline_style():
    template = environment.from_string(
        '{% from "_charts.html" import bar_chart %}'
        '{% call bar_chart(chart, "c", "Lo que tiene y lo que debe") %}<table></table>{% endcall %}'
    )
    html = template.render(chart=charts.composition(TOTALS))
    assert '<figure class="chart bars" id="c">' in html
    assert "<figcaption" in html and "Lo que tiene y lo que debe" in html
    assert 'role="img" aria-labelledby="c-title" aria-describedby="c-desc"' in html
    assert '<title id="c-title">Composición de su posición</title>' in html
    assert "Ahorros: $ 1.234,50; Plazo fijo: $ 5.000,00; Saldo de créditos: $ 8.000,00." in html
    assert "style=" not in html  # the CSP allows no inline style
    assert "<table>" in html


def test_long_ranges_stay_small():
    start = date(2025, 11, 25)
    daily = [(start + timedelta(days=i), Decimal(1000 + i)) for i in range(366)]
    chart = charts.balance_chart(daily, Decimal(999), start, start + timedelta(days=365), "1")
    assert len(chart.series[0].points) <= charts.MAX_POINTS + 2
    assert chart.series[0].markers == []  # too many to tell apart
    assert len(chart.x_ticks) <= 7
