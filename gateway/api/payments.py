"""JSON API of money-moving orders (docs/payments.md): transfers, beneficiaries, limits.

- GET    /api/v1/me/limits                          the member's limits and today's use
- PUT    /api/v1/me/limits                          lower them (200) or raise them (201)
- POST   /api/v1/me/limits/changes/{id}/confirm     confirm a raise with the second factor
- GET    /api/v1/beneficiaries                      the member's beneficiaries
- POST   /api/v1/beneficiaries                      add one (por_confirmar, with its challenge)
- POST   /api/v1/beneficiaries/{id}/confirm         confirm it with the second factor
- DELETE /api/v1/beneficiaries/{id}                 remove it
- POST   /api/v1/transfers                          a transfer por_confirmar, with its challenge
- GET    /api/v1/transfers · /api/v1/transfers/{id} the member's transfers, newest first
- POST   /api/v1/transfers/{id}/confirm             the code: held and sent to the core
- GET    /api/v1/transfers/{id}/receipt.pdf         the receipt (comprobante) of a completada one
- GET    /api/v1/loans/{loan_number}/payment        what paying the loan costs today (the quote)
- POST   /api/v1/loans/{loan_number}/payments       a loan payment of that quote, por_confirmar
- GET    /api/v1/payments · /api/v1/payments/{id}   the member's loan payments, newest first
- POST   /api/v1/payments/{id}/confirm              the code: held and sent to the core
- GET    /api/v1/payments/{id}/receipt.pdf          the receipt of a completada payment
"""

from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from gateway.api.auth import client_ip, user_agent
from gateway.api.position import pdf_response, report_timeout
from gateway.http import http, json_response, read_json
from gateway.openapi import documented
from gateway.parts import GatewayParts
from services.common.ecuador_locale import fecha, money
from services.common.errors import NotFound, ValidationError
from services.credit.contracts import LoanPaymentQuoteSchema
from services.payments.contracts import (
    BeneficiarySchema,
    LimitChangeSchema,
    LimitsViewSchema,
    LoanPaymentSchema,
    TransferSchema,
)

TAGS = ("Transferencias",)
RECEIPT = "payment_receipt"  # the reports service's template of a receipt (comprobante)
KIND_LABELS = {
    "propia": "Entre mis cuentas",
    "socio": "A un beneficiario",
    "loan_payment": "Pago de cuota",
}
NO_RECEIPT = "El comprobante existe cuando la transferencia está completada."
TRANSFER_FIELDS = ("from_account", "to_account", "beneficiary_id", "amount", "description")
BENEFICIARY_FIELDS = ("alias", "account_number", "identification")
CONFIRM_FIELDS = ("method", "code")
LIMIT_FIELDS = ("per_transfer", "daily_to_others")
ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
LOAN_PARAM = {"name": "loan_number", "in": "path", "required": True, "schema": {"type": "string"}}
LOAN_PAYMENT_FIELDS = ("from_account", "amount", "installment_numbers", "as_of")
LOAN_TAGS = ("Pago de cuotas",)
IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Una clave del cliente (1 a 100 caracteres ASCII visibles) por orden: con la misma clave "
        "y los mismos datos se responde lo mismo que la primera vez sin crear otra orden; con "
        "otros datos, 409. Vale 24 horas."
    ),
    "schema": {"type": "string", "maxLength": 100},
}


def idempotency_key(request):
    """The client's `Idempotency-Key` header, or None (payments checks its form)."""
    return request.headers.get("Idempotency-Key")


class TransferBodySchema(Schema):
    from_account = fields.String(required=True)
    to_account = fields.String(metadata={"description": "otra cuenta del socio"})
    beneficiary_id = fields.String(metadata={"description": "o un beneficiario activo"})
    amount = fields.String(required=True, metadata={"example": "125.50"})
    description = fields.String()


class AmountBody(fields.Raw):
    """An amount in a JSON body as the rules accept it (docs/domain.md, "Money"): a string with
    two decimals, or a JSON number with two decimals at most."""

    openapi_property = {
        "oneOf": [
            {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "example": "500.00"},
            {"type": "number", "minimum": 0, "multipleOf": 0.01},
        ]
    }


class LimitsBodySchema(Schema):
    per_transfer = AmountBody(required=True)
    daily_to_others = AmountBody(required=True)


class ConfirmBodySchema(Schema):
    method = fields.String(required=True, metadata={"enum": ["totp", "email_code"]})
    code = fields.String(required=True)


class BeneficiaryBodySchema(Schema):
    alias = fields.String(required=True)
    account_number = fields.String(required=True)
    identification = fields.String(required=True)


class LoanPaymentBodySchema(Schema):
    """The quote the member saw (GET …/payment) and the account it is paid from."""

    from_account = fields.String(required=True, metadata={"description": "AHORRO_VISTA"})
    amount = fields.String(required=True, metadata={"example": "235.10"})
    installment_numbers = fields.List(fields.Integer(), required=True)
    as_of = fields.Date(
        required=True, allow_none=True, metadata={"description": "null fuera de mora"}
    )


class LoanPaymentsSchema(Schema):
    payments = fields.List(fields.Nested(LoanPaymentSchema))


class TransfersSchema(Schema):
    transfers = fields.List(fields.Nested(TransferSchema))


class BeneficiariesSchema(Schema):
    beneficiaries = fields.List(fields.Nested(BeneficiarySchema))


def mask(account_number):
    text = str(account_number or "")
    return "****" + text[-4:] if len(text) > 4 else text


def receipt_response(gateway, principal, order):
    """The receipt (comprobante) PDF of the member's completed order, rendered by reports: the
    cooperative, the member, the time in Ecuador, both accounts masked, the amount in figures and
    in words, the description and the core's reference (the page and the API serve the same)."""
    if order["status"] != "completada":
        raise NotFound(NO_RECEIPT)
    member = gateway.accounts_rpc.get_member(principal.member_number)
    rendered = gateway.reports_rpc.with_timeout(report_timeout()).render(
        RECEIPT,
        {
            "title": "Comprobante de pago de cuota"
            if order.get("kind") == "loan_payment"
            else "Comprobante de transferencia",
            "member": {
                "display_name": member["display_name"],
                "member_number": member["member_number"],
                "identification_masked": member["identification_masked"],
            },
            "order": {
                "kind_label": KIND_LABELS.get(order.get("kind"), order.get("kind")),
                "from_account_masked": mask(order["from_account"]),
                "to_account_masked": order["to_account_masked"],
                "amount": order["amount"],
                "amount_text": money(order["amount"]),
                "description": order.get("description") or "",
                "core_reference": order.get("core_reference") or "",
                "request_id": order["request_id"],
                "done_at": fecha(order.get("answered_at") or order.get("sent_at")),
            },
        },
        f"comprobante-{order.get('core_reference') or order['request_id'][:8]}.pdf",
    )
    return pdf_response(rendered)


def body_of(request, allowed):
    """The body's fields named in `allowed`; any other field is refused (422)."""
    body = read_json(request)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError(fields={name: ["Campo no permitido."] for name in unknown})
    return {name: body.get(name) for name in allowed if name in body}


class PaymentsApi(GatewayParts):
    @documented(
        "/api/v1/me/limits", "GET", "Límites de transferencia", response=LimitsViewSchema, tags=TAGS
    )
    @http("GET", "/api/v1/me/limits")
    def api_limits(self, request):
        principal = self.require_member(request)
        return json_response(self.payments_rpc.get_limits(principal.member_number))

    @documented(
        "/api/v1/me/limits",
        "PUT",
        "Bajar los límites (200, en efecto ya) o subirlos (201, por confirmar con el código)",
        request=LimitsBodySchema,
        request_example={"per_transfer": "500.00", "daily_to_others": "800.00"},
        response=LimitsViewSchema,
        extra_responses={"201": LimitChangeSchema},
        errors=("403", "422", "423", "429"),
        tags=TAGS,
    )
    @http("PUT", "/api/v1/me/limits")
    def api_change_limits(self, request):
        principal = self.require_member(request)
        body = body_of(request, LIMIT_FIELDS)
        answer = self.payments_rpc.change_limits(principal.member_number, **body)
        return json_response(answer, status=201 if "change_id" in answer else 200)

    @documented(
        "/api/v1/me/limits/changes/{id}/confirm",
        "POST",
        "Confirmar el aumento de límites con el segundo factor",
        request=ConfirmBodySchema,
        request_example={"method": "email_code", "code": "123456"},
        response=LimitChangeSchema,
        errors=("404", "409", "410", "422", "423"),
        params=(ID_PARAM,),
        tags=TAGS,
    )
    @http("POST", "/api/v1/me/limits/changes/<id>/confirm")
    def api_confirm_limit_change(self, request, id):
        principal = self.require_member(request)
        body = body_of(request, CONFIRM_FIELDS)
        return json_response(
            self.payments_rpc.confirm_limit_change(
                member_number=principal.member_number, change_id=id, **body
            )
        )

    @documented(
        "/api/v1/beneficiaries", "GET", "Beneficiarios", response=BeneficiariesSchema, tags=TAGS
    )
    @http("GET", "/api/v1/beneficiaries")
    def api_beneficiaries(self, request):
        principal = self.require_member(request)
        return json_response(self.payments_rpc.list_beneficiaries(principal.member_number))

    @documented(
        "/api/v1/beneficiaries",
        "POST",
        "Registrar un beneficiario (por confirmar)",
        request=BeneficiaryBodySchema,
        request_example={
            "alias": "Juan",
            "account_number": "4200999001",
            "identification": "0102030405",
        },
        response=BeneficiarySchema,
        status=201,
        errors=("409", "422", "423", "429"),
        params=(IDEMPOTENCY_PARAM,),
        tags=TAGS,
    )
    @http("POST", "/api/v1/beneficiaries")
    def api_add_beneficiary(self, request):
        principal = self.require_member(request)
        body = body_of(request, BENEFICIARY_FIELDS)
        added = self.payments_rpc.add_beneficiary(
            member_number=principal.member_number,
            idempotency_key=idempotency_key(request),
            **body,
        )
        return json_response(added, status=201)

    @documented(
        "/api/v1/beneficiaries/{id}/confirm",
        "POST",
        "Confirmar un beneficiario con el segundo factor",
        request=ConfirmBodySchema,
        request_example={"method": "email_code", "code": "123456"},
        response=BeneficiarySchema,
        errors=("404", "409", "410", "422", "423"),
        params=(ID_PARAM,),
        tags=TAGS,
    )
    @http("POST", "/api/v1/beneficiaries/<id>/confirm")
    def api_confirm_beneficiary(self, request, id):
        principal = self.require_member(request)
        body = body_of(request, CONFIRM_FIELDS)
        return json_response(
            self.payments_rpc.confirm_beneficiary(
                member_number=principal.member_number, beneficiary_id=id, **body
            )
        )

    @documented(
        "/api/v1/beneficiaries/{id}",
        "DELETE",
        "Eliminar un beneficiario",
        status=204,
        errors=("404",),
        params=(ID_PARAM,),
        tags=TAGS,
    )
    @http("DELETE", "/api/v1/beneficiaries/<id>")
    def api_delete_beneficiary(self, request, id):
        principal = self.require_member(request)
        self.payments_rpc.delete_beneficiary(
            member_number=principal.member_number, beneficiary_id=id
        )
        return Response(status=204)

    @documented(
        "/api/v1/transfers",
        "POST",
        "Ordenar una transferencia (por confirmar)",
        request=TransferBodySchema,
        request_example={
            "from_account": "4100234001",
            "to_account": "4100234002",
            "amount": "25.00",
        },
        response=TransferSchema,
        status=201,
        errors=("404", "409", "422", "423", "429"),
        params=(IDEMPOTENCY_PARAM,),
        tags=TAGS,
    )
    @http("POST", "/api/v1/transfers")
    def api_create_transfer(self, request):
        principal = self.require_member(request)
        body = body_of(request, TRANSFER_FIELDS)
        order = self.payments_rpc.create_transfer(
            member_number=principal.member_number,
            client_ip=client_ip(request),
            session_id=principal.session_id,
            user_agent=user_agent(request),
            channel="api",
            idempotency_key=idempotency_key(request),
            **body,
        )
        return json_response(order, status=201)

    @documented("/api/v1/transfers", "GET", "Transferencias", response=TransfersSchema, tags=TAGS)
    @http("GET", "/api/v1/transfers")
    def api_transfers(self, request):
        principal = self.require_member(request)
        return json_response(self.payments_rpc.list_transfers(principal.member_number))

    @documented(
        "/api/v1/transfers/{id}",
        "GET",
        "Una transferencia",
        response=TransferSchema,
        errors=("404",),
        params=(ID_PARAM,),
        tags=TAGS,
    )
    @http("GET", "/api/v1/transfers/<id>")
    def api_transfer(self, request, id):
        principal = self.require_member(request)
        return json_response(self.payments_rpc.get_transfer(principal.member_number, id))

    @documented(
        "/api/v1/transfers/{id}/receipt.pdf",
        "GET",
        "Comprobante (PDF) de una transferencia completada",
        errors=("404",),
        params=(ID_PARAM,),
        tags=TAGS,
        content_type="application/pdf",
    )
    @http("GET", "/api/v1/transfers/<id>/receipt.pdf")
    def api_transfer_receipt(self, request, id):
        """El comprobante de una orden `completada` del socio: fecha y hora de Ecuador, ambas
        cuentas enmascaradas, el monto en cifras y en letras, la referencia del núcleo. Antes de
        completarse, o de otro socio, 404."""
        principal = self.require_member(request)
        order = self.payments_rpc.get_transfer(principal.member_number, id)
        return receipt_response(self, principal, order)

    @documented(
        "/api/v1/transfers/{id}/confirm",
        "POST",
        "Confirmar una transferencia con el segundo factor",
        request=ConfirmBodySchema,
        request_example={"method": "email_code", "code": "123456"},
        response=TransferSchema,
        errors=("404", "409", "410", "422", "423"),
        params=(ID_PARAM,),
        tags=TAGS,
    )
    @http("POST", "/api/v1/transfers/<id>/confirm")
    def api_confirm_transfer(self, request, id):
        principal = self.require_member(request)
        body = body_of(request, CONFIRM_FIELDS)
        return json_response(
            self.payments_rpc.confirm_transfer(
                member_number=principal.member_number,
                order_id=id,
                client_ip=client_ip(request),
                session_id=principal.session_id,
                user_agent=user_agent(request),
                channel="api",
                **body,
            )
        )

    # --- loan payments ----------------------------------------------------------------------

    @documented(
        "/api/v1/loans/{loan_number}/payment",
        "GET",
        "Valor a pagar hoy de un crédito (cuotas vencidas y la próxima)",
        response=LoanPaymentQuoteSchema,
        errors=("404", "422"),
        params=(LOAN_PARAM,),
        tags=LOAN_TAGS,
    )
    @http("GET", "/api/v1/loans/<loan_number>/payment")
    def api_loan_payment_quote(self, request, loan_number):
        """The overdue installments and the next one, oldest first, plus the late interest and
        other charges of the core's latest snapshot; 422 when the loan cannot be paid online."""
        principal = self.require_member(request)
        return json_response(
            self.credit_rpc.loan_payment_quote(principal.member_number, loan_number)
        )

    @documented(
        "/api/v1/loans/{loan_number}/payments",
        "POST",
        "Pagar las cuotas de un crédito (por confirmar)",
        request=LoanPaymentBodySchema,
        request_example={
            "from_account": "4100234001",
            "amount": "235.10",
            "installment_numbers": [6, 7],
            "as_of": "2026-12-06",
        },
        response=LoanPaymentSchema,
        status=201,
        errors=("404", "409", "422", "423", "429"),
        params=(LOAN_PARAM, IDEMPOTENCY_PARAM),
        tags=LOAN_TAGS,
    )
    @http("POST", "/api/v1/loans/<loan_number>/payments")
    def api_create_loan_payment(self, request, loan_number):
        """The body is the quote the member saw: one that moved since is 409 `quote_changed`;
        a payment of the loan already confirmed and unanswered is 409 `conflict`."""
        principal = self.require_member(request)
        body = body_of(request, LOAN_PAYMENT_FIELDS)
        order = self.payments_rpc.create_loan_payment(
            member_number=principal.member_number,
            loan_number=loan_number,
            client_ip=client_ip(request),
            session_id=principal.session_id,
            user_agent=user_agent(request),
            channel="api",
            idempotency_key=idempotency_key(request),
            **body,
        )
        return json_response(order, status=201)

    @documented(
        "/api/v1/payments", "GET", "Pagos de cuotas", response=LoanPaymentsSchema, tags=LOAN_TAGS
    )
    @http("GET", "/api/v1/payments")
    def api_loan_payments(self, request):
        principal = self.require_member(request)
        return json_response(self.payments_rpc.list_loan_payments(principal.member_number))

    @documented(
        "/api/v1/payments/{id}",
        "GET",
        "Un pago de cuotas",
        response=LoanPaymentSchema,
        errors=("404",),
        params=(ID_PARAM,),
        tags=LOAN_TAGS,
    )
    @http("GET", "/api/v1/payments/<id>")
    def api_loan_payment(self, request, id):
        principal = self.require_member(request)
        return json_response(self.payments_rpc.get_loan_payment(principal.member_number, id))

    @documented(
        "/api/v1/payments/{id}/receipt.pdf",
        "GET",
        "Comprobante (PDF) de un pago de cuotas completado",
        errors=("404",),
        params=(ID_PARAM,),
        tags=LOAN_TAGS,
        content_type="application/pdf",
    )
    @http("GET", "/api/v1/payments/<id>/receipt.pdf")
    def api_loan_payment_receipt(self, request, id):
        """El comprobante de un pago de cuotas `completado` del socio, como el de una
        transferencia. Antes de completarse, o de otro socio, 404."""
        principal = self.require_member(request)
        # the order's common shape (what the receipt names: the loan as its destination)
        order = self.payments_rpc.get_order(principal.member_number, id)
        if order.get("kind") != "loan_payment":
            raise NotFound(NO_RECEIPT)
        return receipt_response(self, principal, order)

    @documented(
        "/api/v1/payments/{id}/confirm",
        "POST",
        "Confirmar un pago de cuotas con el segundo factor",
        request=ConfirmBodySchema,
        request_example={"method": "email_code", "code": "123456"},
        response=LoanPaymentSchema,
        errors=("404", "409", "410", "422", "423"),
        params=(ID_PARAM,),
        tags=LOAN_TAGS,
    )
    @http("POST", "/api/v1/payments/<id>/confirm")
    def api_confirm_loan_payment(self, request, id):
        """409 `quote_changed` when the quote moved before the code (the order is void), 409
        `conflict` when it is no longer por_confirmar."""
        principal = self.require_member(request)
        body = body_of(request, CONFIRM_FIELDS)
        return json_response(
            self.payments_rpc.confirm_loan_payment(
                member_number=principal.member_number,
                order_id=id,
                client_ip=client_ip(request),
                session_id=principal.session_id,
                user_agent=user_agent(request),
                channel="api",
                **body,
            )
        )
