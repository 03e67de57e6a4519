"""GET /api/v1/position and its PDF: accounts, credit and deposit asked in parallel."""

import base64
import logging

from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from gateway import consolidation
from gateway.coalesce import Alone, Send
from gateway.http import http, json_response
from gateway.openapi import documented
from gateway.parts import GatewayParts
from services.accounts.contracts import SavingsPositionSchema, SharePositionSchema
from services.common.clock import CLOCK
from services.common.config import env_float
from services.common.rpc import fan_out
from services.credit.contracts import LoanPositionSchema
from services.deposit.contracts import DepositPositionSchema
from services.reports.contracts import POSITION

log = logging.getLogger("gateway.position")


def position_timeout():
    """One deadline (seconds) shared by the parallel calls of the consolidated position."""
    return env_float("POSITION_TIMEOUT", 2.0)


def report_timeout():
    """Deadline (seconds) of a PDF render by the reports service (every PDF of the gateway)."""
    return env_float("REPORT_TIMEOUT", 30.0)


def pdf_response(answer):
    """The reports service's {filename, content_type, pdf_base64} as a download."""
    filename = answer.get("filename") or "reporte.pdf"
    safe = "".join(c for c in filename if c.isalnum() or c in "-_.") or "reporte.pdf"
    return Response(
        base64.b64decode(answer["pdf_base64"]),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "Cache-Control": "no-store",
        },
    )


class MemberSummarySchema(Schema):
    member_number = fields.String()
    display_name = fields.String()
    identification_masked = fields.String(allow_none=True)


class PositionTotalsSchema(Schema):
    savings = fields.String(allow_none=True)
    deposits = fields.String(allow_none=True)
    shares = fields.String(
        allow_none=True, metadata={"description": "certificados de aportación (capital)"}
    )
    assets = fields.String(allow_none=True, metadata={"description": "savings + deposits + shares"})
    loans_outstanding = fields.String(allow_none=True)
    net = fields.String(allow_none=True)


class PositionSchema(Schema):
    member = fields.Nested(MemberSummarySchema)
    generated_at = fields.String()
    # each row as its service publishes it (services/<service>/contracts.py)
    savings = fields.List(fields.Nested(SavingsPositionSchema))
    shares = fields.List(
        fields.Nested(SharePositionSchema),
        metadata={"description": "certificados de aportación: capital, not savings"},
    )
    deposits = fields.List(fields.Nested(DepositPositionSchema))
    loans = fields.List(fields.Nested(LoanPositionSchema))
    totals = fields.Nested(PositionTotalsSchema)
    unavailable = fields.List(
        fields.String(),
        metadata={"description": "savings (with shares) | deposits | loans"},
    )


class PositionApi(GatewayParts):
    def consolidated_position(self, principal):
        """Ask accounts, credit and deposit at once (one deadline) and merge what answered."""
        number = principal.member_number
        answers = self._position_answers(number, position_timeout())
        unavailable = []
        for key, answer in answers.items():
            if isinstance(answer, Exception):
                log.warning("position: %s did not answer: %r", key, answer)
                unavailable.append(key)  # the plan's keys are the section names
        overview = answers["savings"]
        if not isinstance(overview, Exception):
            answers["member"], answers["savings"] = overview["member"], overview["accounts"]
        member = answers.get("member")
        if isinstance(member, Exception) or not member:
            member = {"member_number": number, "display_name": principal.display_name}
        summary = {
            "member_number": member.get("member_number", number),
            "display_name": member.get("display_name") or principal.display_name,
            "identification_masked": member.get("identification_masked"),
        }
        generated_at = CLOCK.now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

        def ok(key):
            value = answers.get(key)
            return None if isinstance(value, Exception) else value

        return consolidation.build_position(
            summary, ok("savings"), ok("deposits"), ok("loans"), unavailable, generated_at
        )

    def _position_answers(self, number, timeout):
        """{section: answer or exception}: the three sections asked at once, each under the
        one deadline; with other members' asks of the moment when the gateway coalesces them
        (gateway/coalesce.py), else one call per section."""
        accounts = self.accounts_rpc.with_timeout(timeout)
        credit = self.credit_rpc.with_timeout(timeout)
        deposit = self.deposit_rpc.with_timeout(timeout)
        sections = self.position_asks
        if sections is None:
            # the fan-out names its three calls; all are under way together
            return fan_out(
                {
                    # the member record and the accounts
                    "savings": (accounts.overview, number),
                    "loans": (credit.loans_summary, number),
                    "deposits": (deposit.deposits_summary, number),
                }
            )
        plan: dict[str, tuple[Send, Alone]] = {
            "savings": (accounts.overviews, accounts.overview.start),
            "loans": (credit.loans_summaries, credit.loans_summary.start),
            "deposits": (deposit.deposits_summaries, deposit.deposits_summary.start),
        }
        asks = {
            key: sections[key].ask(number, many, timeout, alone=alone)
            for key, (many, alone) in plan.items()
        }
        answers = {}
        for key, ask in asks.items():
            try:
                answers[key] = ask.result()
            except Exception as exc:  # noqa: BLE001  that section is unavailable, not the page
                answers[key] = exc
        return answers

    def position_pdf(self, principal):
        position = self.consolidated_position(principal)
        data = {**position, "title": "Posición consolidada"}
        answer = self.reports_rpc.with_timeout(report_timeout()).render(
            POSITION, data, filename=f"posicion-consolidada-{principal.member_number}.pdf"
        )
        return pdf_response(answer)

    @documented(
        "/api/v1/position",
        "GET",
        "Posición consolidada del socio",
        response=PositionSchema,
        tags=("Estado de cuenta",),
    )
    @http("GET", "/api/v1/position")
    def api_position(self, request):
        """Cuentas de ahorro, depósitos a plazo fijo y créditos con sus totales. Si un servicio
        no responde a tiempo, su sección aparece en `unavailable` y el resto se muestra igual."""
        principal = self.require_member(request)
        return json_response(self.consolidated_position(principal))

    @documented(
        "/api/v1/position.pdf",
        "GET",
        "Reporte PDF de la posición consolidada",
        content_type="application/pdf",
        errors=("503",),
        tags=("Estado de cuenta",),
    )
    @http("GET", "/api/v1/position.pdf")
    def api_position_pdf(self, request):
        principal = self.require_member(request)
        return self.position_pdf(principal)
