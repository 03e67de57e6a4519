"""The member's first page, / (posición consolidada: savings, deposits and loans at a glance),
and its PDF."""

from gateway.http import http
from gateway.parts import GatewayParts
from gateway.web import charts
from gateway.web.render import render

SECTION_NAMES = {
    "savings": "cuentas de ahorro y certificados de aportación",
    "deposits": "depósitos a plazo fijo",
    "loans": "créditos",
}


class PositionPages(GatewayParts):
    @http("GET", "/")
    def page_position(self, request):
        principal = self.require_member(request)
        position = self.consolidated_position(principal)
        return render(
            request,
            "position.html",
            principal=principal,
            position=position,
            section_names=SECTION_NAMES,
            composition=charts.composition(position["totals"], position["unavailable"]),
        )

    @http("GET", "/posicion/reporte")
    def page_position_report(self, request):
        principal = self.require_member(request)
        return self.position_pdf(principal)
