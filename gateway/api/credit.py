"""JSON API of Créditos (docs/api.md): loans and their tables, guarantees, products, simulations,
applications, and the PDFs of a loan's table and of a simulation."""

import base64
from urllib.parse import quote

from werkzeug.wrappers import Response

from gateway.api.position import report_timeout
from gateway.http import http, json_response, read_json
from gateway.openapi import documented
from gateway.parts import GatewayParts
from services.common.fields import counts
from services.credit.contracts import (
    FREQUENCY_NAMES,
    SYSTEM_NAMES,
    ApplicationCreatedSchema,
    ApplicationListSchema,
    ApplicationRequestSchema,
    ApplicationSchema,
    CreditSimulationRequestSchema,
    GuaranteesSchema,
    LoanListSchema,
    LoanSchema,
    ProductListSchema,
    ScheduleSchema,
)
from services.reports.contracts import CREDIT_SIMULATION, LOAN_SCHEDULE

TAGS = ("Créditos",)
LOAN_PARAM = {"name": "loan_number", "in": "path", "required": True, "schema": {"type": "string"}}
APPLICATION_PARAM = {
    "name": "application_number",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 100},
    "description": "La misma clave devuelve la misma solicitud (nunca crea dos).",
}
SIMULATION_QUERY = [
    {"name": name, "in": "query", "required": name != "start_date", "schema": {"type": "string"}}
    for name in ("product_code", "amount", "term_months", "system", "frequency", "start_date")
]


def pdf_response(rendered):
    filename = rendered["filename"]
    return Response(
        base64.b64decode(rendered["pdf_base64"]),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )


def report_member(member):
    return {
        "display_name": member["display_name"],
        "member_number": member["member_number"],
        "identification_masked": member["identification_masked"],
    }


def named(data):
    """The Spanish names of a schedule's system and frequency, for reports and pages."""
    return {
        **data,
        "system_name": SYSTEM_NAMES.get(data.get("system"), data.get("system")),
        "frequency_name": FREQUENCY_NAMES.get(data.get("frequency"), data.get("frequency")),
    }


class CreditApi(GatewayParts):
    """Mixin of GatewayService."""

    # --- helpers shared with the pages (gateway/web/credit.py) ----------------------------

    def loan_schedule_pdf(self, member_number, loan_number):
        loan_call = self.credit_rpc.get_loan.call_async(member_number, loan_number)
        member_call = self.accounts_rpc.get_member.call_async(member_number)
        loan, member = loan_call.result(), member_call.result()
        rendered = self.reports_rpc.with_timeout(report_timeout()).render(
            LOAN_SCHEDULE,
            {
                "title": f"Tabla de amortización · Crédito {loan['loan_number']}",
                "member": report_member(member),
                "loan": named(loan),
            },
            f"tabla-amortizacion-{loan['loan_number']}.pdf",
        )
        return pdf_response(rendered)

    def simulation_pdf(self, member_number, query):
        schedule_call = self.credit_rpc.simulate.call_async(query)
        member_call = self.accounts_rpc.get_member.call_async(member_number)
        schedule, member = schedule_call.result(), member_call.result()
        rendered = self.reports_rpc.with_timeout(report_timeout()).render(
            CREDIT_SIMULATION,
            {
                "title": "Simulación de crédito",
                "member": report_member(member),
                "schedule": named(schedule),
            },
            "simulacion-credito.pdf",
        )
        return pdf_response(rendered)

    # --- loans ----------------------------------------------------------------------------

    @documented(
        "/api/v1/loans",
        "GET",
        "Créditos vigentes del socio",
        response=LoanListSchema,
        tags=TAGS,
    )
    @http("GET", "/api/v1/loans")
    def api_loans(self, request):
        """Sin créditos vigentes: `loans: []` y `message: "No posee créditos vigentes"`."""
        principal = self.require_member(request)
        return json_response(self.credit_rpc.list_loans(principal.member_number))

    @documented(
        "/api/v1/loans/{loan_number}",
        "GET",
        "Crédito con su tabla de amortización",
        response=LoanSchema,
        errors=("404",),
        tags=TAGS,
        params=(LOAN_PARAM,),
    )
    @http("GET", "/api/v1/loans/<loan_number>")
    def api_loan(self, request, loan_number):
        """Cada cuota con `status` (pagada, vencida, pendiente) y `paid_on`."""
        principal = self.require_member(request)
        return json_response(self.credit_rpc.get_loan(principal.member_number, loan_number))

    @documented(
        "/api/v1/loans/{loan_number}/schedule.pdf",
        "GET",
        "Tabla de amortización del crédito en PDF",
        errors=("404", "503"),
        tags=TAGS,
        params=(LOAN_PARAM,),
        content_type="application/pdf",
    )
    @http("GET", "/api/v1/loans/<loan_number>/schedule.pdf")
    def api_loan_schedule_pdf(self, request, loan_number):
        principal = self.require_member(request)
        return self.loan_schedule_pdf(principal.member_number, loan_number)

    @documented(
        "/api/v1/guarantees",
        "GET",
        "Garantes de mis créditos y créditos que garantizo",
        response=GuaranteesSchema,
        tags=TAGS,
    )
    @http("GET", "/api/v1/guarantees")
    def api_guarantees(self, request):
        principal = self.require_member(request)
        return json_response(self.credit_rpc.guarantees(principal.member_number))

    # --- products, simulations, applications ----------------------------------------------

    @documented(
        "/api/v1/credit/products",
        "GET",
        "Productos de crédito",
        response=ProductListSchema,
        tags=TAGS,
    )
    @http("GET", "/api/v1/credit/products")
    def api_credit_products(self, request):
        self.require_member(request)
        return json_response(self.credit_rpc.list_products())

    @documented(
        "/api/v1/credit/simulations",
        "POST",
        "Simulación de crédito (no se guarda nada)",
        request=CreditSimulationRequestSchema,
        response=ScheduleSchema,
        tags=TAGS,
    )
    @http("POST", "/api/v1/credit/simulations")
    def api_credit_simulation(self, request):
        self.require_member(request)
        return json_response(self.credit_rpc.simulate(read_json(request)))

    @documented(
        "/api/v1/credit/simulations.pdf",
        "GET",
        "Simulación de crédito en PDF (los mismos campos, en la consulta)",
        errors=("422", "503"),
        tags=TAGS,
        params=tuple(SIMULATION_QUERY),
        content_type="application/pdf",
    )
    @http("GET", "/api/v1/credit/simulations.pdf")
    def api_credit_simulation_pdf(self, request):
        principal = self.require_member(request)
        # a query string is text: its digits are the count, anything else is refused as in JSON
        query = counts(request.args.to_dict(), ("term_months",))
        return self.simulation_pdf(principal.member_number, query)

    @documented(
        "/api/v1/credit/applications",
        "POST",
        "Solicitud de crédito (queda ingresada)",
        request=ApplicationRequestSchema,
        response=ApplicationCreatedSchema,
        status=201,
        errors=("409", "503"),
        tags=TAGS,
        params=(IDEMPOTENCY_PARAM,),
    )
    @http("POST", "/api/v1/credit/applications")
    def api_credit_application(self, request):
        """La misma `Idempotency-Key` devuelve la misma solicitud; con otros datos, 409."""
        principal = self.require_member(request)
        created = self.credit_rpc.submit_application(
            principal.member_number,
            read_json(request),
            request.headers.get("Idempotency-Key") or None,
        )
        return json_response(created, status=201)

    @documented(
        "/api/v1/credit/applications/{application_number}/withdraw",
        "POST",
        "Desistir de una solicitud ingresada o en análisis (queda desistida)",
        response=ApplicationSchema,
        errors=("404", "409"),
        tags=TAGS,
        params=(APPLICATION_PARAM,),
    )
    @http("POST", "/api/v1/credit/applications/<application_number>/withdraw")
    def api_credit_application_withdraw(self, request, application_number):
        """Solo desde `ingresada` o `en_analisis`; en otro estado, 409."""
        principal = self.require_member(request)
        return json_response(
            self.credit_rpc.withdraw_application(principal.member_number, application_number)
        )

    @documented(
        "/api/v1/credit/applications",
        "GET",
        "Solicitudes de crédito del socio",
        response=ApplicationListSchema,
        tags=TAGS,
    )
    @http("GET", "/api/v1/credit/applications")
    def api_credit_applications(self, request):
        principal = self.require_member(request)
        return json_response(self.credit_rpc.list_applications(principal.member_number))
