"""Pages of "Estado de cuenta": / (posición consolidada) and /estado-de-cuenta, with their PDFs."""

from datetime import date
from urllib.parse import urlencode

from gateway.api.accounts import statement_range
from gateway.http import http
from gateway.web.render import csrf_valid, render
from services.common.errors import ValidationError

WEB_PAGE_SIZE = 50
SECTION_NAMES = {
    "savings": "cuentas de ahorro",
    "deposits": "depósitos a plazo fijo",
    "loans": "créditos",
}
# the form speaks Spanish; the API's field names are mapped onto its inputs
FORM_FIELDS = {"from": "desde", "to": "hasta", "page": "pagina", "page_size": "pagina"}
CSRF_MESSAGE = "La sesión del formulario expiró. Vuelva a intentarlo."


def _form_errors(fields):
    errors = {}
    for name, messages in (fields or {}).items():
        errors.setdefault(FORM_FIELDS.get(name, name), []).extend(messages)
    return errors


class StatementsWeb:
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
        )

    @http("GET", "/posicion/reporte")
    def page_position_report(self, request):
        principal = self.require_member(request)
        return self.position_pdf(principal)

    def _statement_page(self, request, principal, values, status=200, errors=None):
        accounts = self.accounts_rpc.list_accounts(principal.member_number)
        today = date.today()
        month_start = today.replace(day=1)
        form = {
            "cuenta": values.get("cuenta") or (accounts[0]["account_number"] if accounts else ""),
            "desde": values.get("desde") or month_start.isoformat(),
            "hasta": values.get("hasta") or today.isoformat(),
        }
        statement = None
        errors = dict(errors or {})
        if values.get("cuenta") and not errors:
            try:
                date_from, date_to, page, _ = statement_range(
                    {
                        "from": form["desde"],
                        "to": form["hasta"],
                        "page": values.get("pagina") or "1",
                    }
                )
                statement = self.member_statement(
                    principal, form["cuenta"], date_from, date_to, page, WEB_PAGE_SIZE
                )
            except ValidationError as exc:
                errors = _form_errors(exc.fields)
                status = 422
        links = {}
        if statement:
            base = {"cuenta": form["cuenta"], "desde": form["desde"], "hasta": form["hasta"]}
            links["download"] = "/estado-de-cuenta/reporte?" + urlencode(base)
            if statement["page"] > 1:
                links["previous"] = "/estado-de-cuenta?" + urlencode(
                    {**base, "pagina": statement["page"] - 1}
                )
            if statement["page"] < statement["total_pages"]:
                links["next"] = "/estado-de-cuenta?" + urlencode(
                    {**base, "pagina": statement["page"] + 1}
                )
        return render(
            request,
            "statement.html",
            status=status,
            principal=principal,
            accounts=accounts,
            form=form,
            errors=errors,
            statement=statement,
            links=links,
        )

    @http("GET", "/estado-de-cuenta")
    def page_statement(self, request):
        principal = self.require_member(request)
        return self._statement_page(request, principal, request.args)

    @http("POST", "/estado-de-cuenta")
    def page_statement_process(self, request):
        principal = self.require_member(request)
        values = {k: request.form.get(k, "").strip() for k in ("cuenta", "desde", "hasta")}
        if not csrf_valid(request):
            return self._statement_page(
                request, principal, values, status=400, errors={"_form": [CSRF_MESSAGE]}
            )
        if not values["cuenta"]:
            errors = {"cuenta": ["Seleccione una cuenta."]}
            return self._statement_page(request, principal, values, status=422, errors=errors)
        return self._statement_page(request, principal, values)

    @http("GET", "/estado-de-cuenta/reporte")
    def page_statement_report(self, request):
        principal = self.require_member(request)
        args = request.args
        try:
            date_from, date_to, _, _ = statement_range(
                {"from": args.get("desde"), "to": args.get("hasta")}
            )
            return self.statement_pdf(principal, args.get("cuenta", ""), date_from, date_to)
        except ValidationError as exc:
            values = {k: args.get(k, "") for k in ("cuenta", "desde", "hasta")}
            errors = _form_errors(exc.fields)
            return self._statement_page(request, principal, values, status=422, errors=errors)
