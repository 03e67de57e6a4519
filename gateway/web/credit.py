"""Pages of Créditos (docs/manual.md section 2): 2.1 tabla de amortización, 2.2 simulación,
2.3 solicitud (Proyectar → tabla → Grabar), 2.4 garantías, and the PDFs."""

import secrets
from urllib.parse import urlencode

from gateway.api.credit import named
from gateway.http import http
from gateway.web import charts
from gateway.web.render import csrf_valid, redirect, render
from services.common.errors import BadRequest, ValidationError
from services.credit.domain import FREQUENCY_NAMES, MAX_GUARANTORS, SYSTEM_NAMES

SIMULATION_FIELDS = ("product_code", "amount", "term_months", "system", "frequency", "start_date")
APPLICATION_FIELDS = SIMULATION_FIELDS + ("purpose", "monthly_income", "monthly_expenses")
MONEY_FIELDS = ("amount", "monthly_income", "monthly_expenses")
CSRF_EXPIRED = "El formulario expiró. Vuelva a cargar la página e intente nuevamente."


def normalize_number(text):
    """A member may type '10.000,50' or '10000,50' (es-EC) or '10000.50'."""
    text = (text or "").strip().replace(" ", "").replace("$", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    return text


def form_values(form, names):
    return {name: (form.get(name) or "").strip() for name in names}


def request_from(values):
    """The RPC body of a form: empty optional fields left out, numbers normalized."""
    data = {}
    for name, value in values.items():
        if name == "start_date" and not value:
            continue
        data[name] = normalize_number(value) if name in MONEY_FIELDS else value
    return data


def guarantors_from(form):
    rows = []
    for index in range(1, MAX_GUARANTORS + 2):
        ident = (form.get(f"guarantor_id_{index}") or "").strip()
        name = (form.get(f"guarantor_name_{index}") or "").strip()
        if ident or name:
            rows.append({"identification": ident, "name": name})
    return rows


def guarantor_inputs(guarantors):
    """Three pairs of inputs (cédula, nombre), filled with what was entered."""
    filled = list(guarantors)[:MAX_GUARANTORS]
    return filled + [{"identification": "", "name": ""}] * (MAX_GUARANTORS - len(filled))


class CreditPages:
    """Mixin of GatewayService."""

    def _products(self):
        return self.credit_rpc.list_products()["products"]

    def _page(self, request, template, principal, status=200, **context):
        schedule = context.get("schedule")
        if schedule and schedule.get("rows"):
            context["schedule_chart"] = charts.schedule_chart(schedule["rows"])
        return render(
            request,
            template,
            status=status,
            principal=principal,
            system_names=SYSTEM_NAMES,
            frequency_names=FREQUENCY_NAMES,
            **context,
        )

    # --- 2.1 tabla de amortización --------------------------------------------------------

    @http("GET", "/creditos")
    def page_loans(self, request):
        principal = self.require_member(request)
        answer = self.credit_rpc.list_loans(principal.member_number)
        return self._page(
            request,
            "credit/loans.html",
            principal,
            loans=answer["loans"],
            message=answer["message"],
        )

    @http("GET", "/creditos/<loan_number>")
    def page_loan(self, request, loan_number):
        principal = self.require_member(request)
        loan = self.credit_rpc.get_loan(principal.member_number, loan_number)
        return self._page(request, "credit/loan.html", principal, loan=named(loan))

    @http("GET", "/creditos/<loan_number>/tabla.pdf")
    def page_loan_pdf(self, request, loan_number):
        principal = self.require_member(request)
        return self.loan_schedule_pdf(principal.member_number, loan_number)

    # --- 2.2 simulación -------------------------------------------------------------------

    @http("GET,POST", "/creditos/simulacion")
    def page_simulation(self, request):
        principal = self.require_member(request)
        products = self._products()
        values = form_values(request.form, SIMULATION_FIELDS)
        schedule, errors, pdf_query = None, {}, None
        status = 200
        if request.method == "POST":
            if not csrf_valid(request):
                raise BadRequest(CSRF_EXPIRED)
            data = request_from(values)
            try:
                schedule = named(self.credit_rpc.simulate(data))
                pdf_query = urlencode(data)
            except ValidationError as exc:
                errors, status = dict(exc.fields), 422
        return self._page(
            request,
            "credit/simulation.html",
            principal,
            status=status,
            products=products,
            values=values,
            errors=errors,
            schedule=schedule,
            pdf_query=pdf_query,
        )

    @http("GET", "/creditos/simulacion.pdf")
    def page_simulation_pdf(self, request):
        principal = self.require_member(request)
        query = {k: v for k, v in request.args.to_dict().items() if k in SIMULATION_FIELDS}
        return self.simulation_pdf(principal.member_number, request_from(query))

    # --- 2.3 solicitud --------------------------------------------------------------------

    @http("GET,POST", "/creditos/solicitud")
    def page_application(self, request):
        principal = self.require_member(request)
        values = form_values(request.form, APPLICATION_FIELDS)
        guarantors = guarantors_from(request.form)
        schedule, errors, form_token = None, {}, None
        status = 200
        if request.method == "POST":
            if not csrf_valid(request):
                raise BadRequest(CSRF_EXPIRED)
            data = {**request_from(values), "guarantors": guarantors}
            action = request.form.get("action")
            try:
                if action == "grabar":
                    # the form token made at Proyectar: a double click saves one application
                    token = (request.form.get("form_token") or "").strip() or None
                    created = self.credit_rpc.submit_application(
                        principal.member_number, data, token
                    )
                    return redirect(
                        "/creditos/solicitudes?"
                        + urlencode({"nueva": created["application_number"]})
                    )
                schedule = named(self.credit_rpc.project_application(principal.member_number, data))
                form_token = secrets.token_urlsafe(24)
            except ValidationError as exc:
                errors, status = dict(exc.fields), 422
        return self._page(
            request,
            "credit/application.html",
            principal,
            status=status,
            products=self._products(),
            values=values,
            guarantors=guarantor_inputs(guarantors),
            filled_guarantors=guarantors,
            errors=errors,
            schedule=schedule,
            form_token=form_token,
        )

    @http("GET", "/creditos/solicitudes")
    def page_applications(self, request):
        principal = self.require_member(request)
        applications = self.credit_rpc.list_applications(principal.member_number)["applications"]
        new = request.args.get("nueva", "")
        created = next((a for a in applications if a["application_number"] == new), None)
        return self._page(
            request,
            "credit/applications.html",
            principal,
            applications=applications,
            created=created,
        )

    # --- 2.4 garantías --------------------------------------------------------------------

    @http("GET", "/creditos/garantias")
    def page_guarantees(self, request):
        principal = self.require_member(request)
        answer = self.credit_rpc.guarantees(principal.member_number)
        return self._page(
            request,
            "credit/guarantees.html",
            principal,
            guarantors=answer["guarantors"],
            guaranteed_by_me=answer["guaranteed_by_me"],
        )
