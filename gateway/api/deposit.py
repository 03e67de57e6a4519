"""JSON API of term deposits (plazo fijo): the member's deposits, the rate chart, simulations.

- GET  /api/v1/deposits                    the session member's active deposits
- GET  /api/v1/deposit/rates               the rate chart in force
- POST /api/v1/deposit/simulations         a projection (nothing is stored)
- POST /api/v1/deposit/simulations.pdf     the same projection as a PDF (reports service)
"""

import base64

from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from gateway.api.position import report_timeout
from gateway.http import http, json_response, read_json
from gateway.openapi import documented
from gateway.parts import GatewayParts
from services.common.errors import NotFound, ServiceUnavailable, ValidationError
from services.common.fields import IsoDate
from services.deposit.contracts import (
    DepositSchema,
    DepositSimulationRequestSchema,
    ProjectionSchema,
    RatesSchema,
)
from services.reports.contracts import DEPOSIT_SIMULATION

NO_DEPOSITS = "No posee plazo fijo"
SIMULATION_FIELDS = ("amount", "term_days", "interest_payment", "start_date")
PDF_TITLE = "Simulación de plazo fijo"
PDF_FILENAME = "simulacion-plazo-fijo.pdf"
TAGS = ("Plazo fijo",)
SIMULATION_EXAMPLE = {"amount": "5000.00", "term_days": 180, "interest_payment": "maturity"}


class DepositsResponseSchema(Schema):
    deposits = fields.List(fields.Nested(DepositSchema), required=True)
    message = fields.String(allow_none=True, required=True)


def simulation_args(body):
    """The simulation's fields from a body; any other field is refused (422), like the RPC's."""
    unknown = sorted(set(body) - set(SIMULATION_FIELDS))
    if unknown:
        raise ValidationError(fields={name: ["Campo no permitido."] for name in unknown})
    if body.get("start_date") == "":  # the service reads a blank form field as "today"; JSON
        # says so with null or by leaving it out, as documented
        raise ValidationError(
            fields={"start_date": [str(IsoDate.default_error_messages["invalid"])]}
        )
    return {name: body.get(name) for name in SIMULATION_FIELDS}


def pdf_response(rendered, disposition):
    return Response(
        base64.b64decode(rendered["pdf_base64"]),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'{disposition}; filename="{rendered["filename"]}"',
            "Cache-Control": "no-store",
        },
    )


class DepositApi(GatewayParts):
    """Used by GatewayService; the web pages (gateway/web/deposit.py) share its helpers."""

    def deposits_of(self, principal):
        deposits = self.deposit_rpc.list_deposits(principal.member_number)
        return {"deposits": deposits, "message": None if deposits else NO_DEPOSITS}

    def report_member(self, principal):
        """The member as the PDF header shows it; the session's name if accounts is silent."""
        try:
            member = self.accounts_rpc.get_member(principal.member_number)
        except (ServiceUnavailable, NotFound):
            return {
                "display_name": principal.display_name,
                "member_number": principal.member_number,
            }
        return {
            "display_name": member["display_name"],
            "member_number": member["member_number"],
            "identification_masked": member["identification_masked"],
        }

    def deposit_simulation_pdf(self, principal, args):
        """{filename, content_type, pdf_base64} of a simulation (validated by the service)."""
        projection = self.deposit_rpc.simulate(**args)
        data = {
            "title": PDF_TITLE,
            "member": self.report_member(principal),
            "projection": projection,
        }
        return self.reports_rpc.with_timeout(report_timeout()).render(
            DEPOSIT_SIMULATION, data, PDF_FILENAME
        )

    @documented(
        "/api/v1/deposits",
        "GET",
        "Plazos fijos vigentes del socio",
        response=DepositsResponseSchema,
        errors=("503",),
        tags=TAGS,
    )
    @http("GET", "/api/v1/deposits")
    def api_deposits(self, request):
        """Each active deposit with its position today; with none, `message: "No posee plazo
        fijo"`."""
        principal = self.require_member(request)
        return json_response(self.deposits_of(principal))

    @documented(
        "/api/v1/deposit/rates",
        "GET",
        "Tabla de tasas de plazo fijo vigente",
        response=RatesSchema,
        errors=("503",),
        tags=TAGS,
    )
    @http("GET", "/api/v1/deposit/rates")
    def api_deposit_rates(self, request):
        self.require_member(request)
        return json_response(self.deposit_rpc.rates())

    @documented(
        "/api/v1/deposit/simulations",
        "POST",
        "Simulación de plazo fijo (no se guarda)",
        request=DepositSimulationRequestSchema,
        request_example=SIMULATION_EXAMPLE,
        response=ProjectionSchema,
        errors=("503",),
        tags=TAGS,
    )
    @http("POST", "/api/v1/deposit/simulations")
    def api_deposit_simulation(self, request):
        """`interest_payment`: "maturity" or "monthly"; `start_date` defaults to today."""
        self.require_member(request)
        args = simulation_args(read_json(request))
        return json_response(self.deposit_rpc.simulate(**args))

    @documented(
        "/api/v1/deposit/simulations.pdf",
        "POST",
        "Simulación de plazo fijo en PDF",
        request=DepositSimulationRequestSchema,
        request_example=SIMULATION_EXAMPLE,
        errors=("503",),
        tags=TAGS,
        content_type="application/pdf",
    )
    @http("POST", "/api/v1/deposit/simulations.pdf")
    def api_deposit_simulation_pdf(self, request):
        """Same body as /deposit/simulations; answers the projection as `application/pdf`."""
        principal = self.require_member(request)
        args = simulation_args(read_json(request))
        return pdf_response(self.deposit_simulation_pdf(principal, args), "attachment")
