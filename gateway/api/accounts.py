"""GET /api/v1/accounts, the statement of one account and its PDF (docs/api.md "Statement")."""

from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response

from gateway.api.position import pdf_response, report_timeout
from gateway.http import http, json_response
from gateway.openapi import documented
from gateway.parts import GatewayParts
from gateway.statement_csv import csv_filename, statement_csv
from services.accounts.contracts import (
    OLDEST_FIRST,
    ORDER_ERROR,
    STATEMENT_ORDERS,
    AccountSchema,
    StatementSchema,
)
from services.common.clock import CLOCK
from services.common.errors import NotFound
from services.common.fields import Count, IsoDate, counts
from services.common.schemas import PortalSchema, load_or_raise
from services.reports.contracts import STATEMENT

API_MAX_PAGE_SIZE = 500
FETCH_PAGE_SIZE = 5000  # what accounts.get_statement allows per call, to gather a whole range
ACCOUNT_NOT_FOUND = "La cuenta no existe."


class StatementQuerySchema(PortalSchema):
    from_ = IsoDate(data_key="from")
    to = IsoDate()
    page = Count(load_default=1, validate=validate.Range(min=1, error="Debe ser 1 o mayor."))
    page_size = Count(
        load_default=100,
        validate=validate.Range(
            min=1, max=API_MAX_PAGE_SIZE, error=f"Debe estar entre 1 y {API_MAX_PAGE_SIZE}."
        ),
    )
    order = fields.String(
        load_default=OLDEST_FIRST, validate=validate.OneOf(STATEMENT_ORDERS, error=ORDER_ERROR)
    )


class AccountListSchema(Schema):
    accounts = fields.List(fields.Nested(AccountSchema))


def _query_param(name, description, schema):
    return {
        "name": name,
        "in": "query",
        "required": False,
        # `?from=&to=` (a form's blank fields) is the same as leaving them out: the default
        "allowEmptyValue": True,
        "description": description,
        "schema": schema,
    }


ACCOUNT_PARAM = {
    "name": "account_number",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
RANGE_PARAMS = (
    ACCOUNT_PARAM,
    _query_param(
        "from",
        "Fecha de inicio (por omisión, el primer día del mes)",
        {"type": "string", "format": "date"},
    ),
    _query_param("to", "Fecha de corte (por omisión, hoy)", {"type": "string", "format": "date"}),
)
PAGE_PARAMS = (
    _query_param("page", "Página (desde 1)", {"type": "integer", "minimum": 1}),
    _query_param(
        "page_size",
        "Movimientos por página",
        {"type": "integer", "minimum": 1, "maximum": API_MAX_PAGE_SIZE},
    ),
    _query_param(
        "order",
        "asc: los movimientos más antiguos primero (por omisión); desc: los más recientes primero",
        {"type": "string", "enum": list(STATEMENT_ORDERS)},
    ),
)


def statement_query(values):
    """{from_, to, page, page_size, order} of a statement request; the current month, oldest
    first, by default.

    Only the format is checked here; the date rules (future, order, 366 days) are the accounts
    service's and come back as 422 with Spanish `fields`.
    """
    keys = ("from", "to", "page", "page_size", "order")
    wanted = {k: values.get(k) for k in keys if values.get(k)}
    query = load_or_raise(StatementQuerySchema(), counts(wanted, ("page", "page_size")))
    today = CLOCK.today()
    query["to"] = query.get("to") or today
    query["from_"] = query.get("from_") or min(query["to"], today).replace(day=1)
    return query


def statement_range(values):
    """(from, to, page, page_size) of a statement request (`statement_query`)."""
    query = statement_query(values)
    return query["from_"], query["to"], query["page"], query["page_size"]


def plausible_account_number(account_number):
    return bool(account_number) and len(account_number) <= 20 and account_number.isalnum()


class AccountsApi(GatewayParts):
    def member_statement(
        self, principal, account_number, date_from, date_to, page, page_size, order=OLDEST_FIRST
    ):
        if not plausible_account_number(account_number):
            raise NotFound(ACCOUNT_NOT_FOUND)
        return self.accounts_rpc.get_statement(
            principal.member_number,
            account_number,
            date_from.isoformat(),
            date_to.isoformat(),
            page,
            page_size,
            order,
        )

    def full_statement(self, principal, account_number, date_from, date_to, progress=None):
        """The statement with every movement of the range (fetched in pages of 5 000);
        `progress(pages_read, total_pages)` is told after each page."""
        member_call = self.accounts_rpc.get_member.call_async(principal.member_number)
        first = self.member_statement(
            principal, account_number, date_from, date_to, 1, FETCH_PAGE_SIZE
        )
        movements = list(first["movements"])
        pages = first.get("total_pages", 1)
        if progress:
            progress(1, pages)
        for page in range(2, pages + 1):
            more = self.member_statement(
                principal, account_number, date_from, date_to, page, FETCH_PAGE_SIZE
            )
            movements.extend(more["movements"])
            if progress:
                progress(page, pages)
        member = member_call.result()
        return {
            **first,
            "movements": movements,
            "page": 1,
            "page_size": len(movements),
            "total_pages": 1,
            "title": "Estado de cuenta",
            "member": {
                "display_name": member.get("display_name"),
                "member_number": member.get("member_number"),
                "identification_masked": member.get("identification_masked"),
            },
        }

    def statement_movements(self, principal, account_number, date_from, date_to):
        """(the statement's first page, every movement of the range), in pages of 5 000."""
        first = self.member_statement(
            principal, account_number, date_from, date_to, 1, FETCH_PAGE_SIZE
        )
        movements = list(first["movements"])
        for page in range(2, first.get("total_pages", 1) + 1):
            movements.extend(
                self.member_statement(
                    principal, account_number, date_from, date_to, page, FETCH_PAGE_SIZE
                )["movements"]
            )
        return first, movements

    def statement_csv(self, principal, account_number, date_from, date_to):
        """Every movement of the range as a CSV download (gateway/statement_csv.py)."""
        _, movements = self.statement_movements(principal, account_number, date_from, date_to)
        filename = csv_filename(account_number, date_from, date_to)
        return Response(
            statement_csv(movements),
            mimetype="text/csv",
            content_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    def statement_pdf(self, principal, account_number, date_from, date_to):
        return pdf_response(self.render_statement(principal, account_number, date_from, date_to))

    def render_statement(
        self, principal, account_number, date_from, date_to, timeout=None, progress=None
    ):
        """The reports service's answer for the statement PDF of the range."""
        data = self.full_statement(principal, account_number, date_from, date_to, progress)
        closed = date_to < CLOCK.today()
        return self.reports_rpc.with_timeout(timeout or report_timeout()).render(
            STATEMENT,
            data,
            filename=f"estado-de-cuenta-{data['account_number']}-{data['from']}-{data['to']}.pdf",
            cacheable=closed,
        )

    @documented(
        "/api/v1/accounts",
        "GET",
        "Cuentas de ahorro del socio",
        response=AccountListSchema,
        tags=("Estado de cuenta",),
    )
    @http("GET", "/api/v1/accounts")
    def api_accounts(self, request):
        principal = self.require_member(request)
        return json_response({"accounts": self.accounts_rpc.list_accounts(principal.member_number)})

    @documented(
        "/api/v1/accounts/{account_number}/statement",
        "GET",
        "Estado de cuenta (movimientos con saldo, paginado)",
        response=StatementSchema,
        errors=("404", "422"),
        params=RANGE_PARAMS + PAGE_PARAMS,
        tags=("Estado de cuenta",),
    )
    @http("GET", "/api/v1/accounts/<string:account_number>/statement")
    def api_statement(self, request, account_number):
        """Saldo inicial, saldo final y totales de débitos y créditos de todo el rango (no solo de
        la página); `opening_balance + total_credits − total_debits = closing_balance`. Con
        `order=desc`, los movimientos más recientes primero (la página 1 tiene los últimos)."""
        principal = self.require_member(request)
        q = statement_query(request.args)
        range_and_page = (q["from_"], q["to"], q["page"], q["page_size"])
        return json_response(
            self.member_statement(principal, account_number, *range_and_page, q["order"])
        )

    @documented(
        "/api/v1/accounts/{account_number}/statement.pdf",
        "GET",
        "Estado de cuenta en PDF (todos los movimientos del rango)",
        content_type="application/pdf",
        errors=("404", "422", "503"),
        params=RANGE_PARAMS,
        tags=("Estado de cuenta",),
    )
    @http("GET", "/api/v1/accounts/<string:account_number>/statement.pdf")
    def api_statement_pdf(self, request, account_number):
        principal = self.require_member(request)
        date_from, date_to, _, _ = statement_range(
            {k: v for k, v in request.args.items() if k in ("from", "to")}
        )
        return self.statement_pdf(principal, account_number, date_from, date_to)

    @documented(
        "/api/v1/accounts/{account_number}/statement.csv",
        "GET",
        "Estado de cuenta en CSV para hoja de cálculo (es-EC: `;`, coma decimal, UTF-8 con BOM)",
        content_type="text/csv",
        errors=("404", "422"),
        params=RANGE_PARAMS,
        tags=("Estado de cuenta",),
    )
    @http("GET", "/api/v1/accounts/<string:account_number>/statement.csv")
    def api_statement_csv(self, request, account_number):
        """Todos los movimientos del rango; las sumas de Débito y Crédito son los totales."""
        principal = self.require_member(request)
        date_from, date_to, _, _ = statement_range(
            {k: v for k, v in request.args.items() if k in ("from", "to")}
        )
        return self.statement_csv(principal, account_number, date_from, date_to)
