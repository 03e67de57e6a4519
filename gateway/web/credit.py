"""Pages of Créditos (docs/manual.md section 2): 2.1 tabla de amortización, 2.2 simulación,
2.3 solicitud (Proyectar → tabla → Grabar), 2.4 garantías, and the PDFs."""

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from gateway.api.credit import named
from gateway.http import http
from gateway.parts import GatewayParts
from gateway.web import charts, results
from gateway.web.amounts import empty_errors, merged_errors, read_amounts
from gateway.web.render import csrf_valid, redirect, render
from gateway.web.results import RESULT_PARAM
from services.common.clock import to_local
from services.common.ecuador_locale import amount_input_text
from services.common.errors import BadRequest, Conflict, ValidationError
from services.common.fields import counts
from services.credit.contracts import (
    FREQUENCY_NAMES,
    IN_PROCESS,
    MAX_GUARANTORS,
    STATUS_LABELS,
    SYSTEM_NAMES,
    WITHDRAWN,
)


def local_instant(value):
    """'2026-12-01T15:04:05Z' (UTC, as the API sends it) → '01/12/2026 10:04' (Ecuador)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return to_local(moment).strftime("%d/%m/%Y %H:%M")


def application_view(application):
    """An application as the member reads it: Spanish status, Ecuador times, its history."""
    return {
        **application,
        "status_label": STATUS_LABELS.get(application["status"], application["status"]),
        "submitted_local": local_instant(application["submitted_at"]),
        "history": [
            {
                "status_label": STATUS_LABELS.get(step["status"], step["status"]),
                "at_local": local_instant(step["at"]),
            }
            for step in application.get("history", [])
        ],
    }


def schedule_years(rows, opened=None):
    """An amortization table by calendar year, for a page that never ends on a phone: each
    year {year, rows, count, total} with `open` for the years shown unfolded — those holding an
    installment `opened(row)` picks (overdue, the next one), or the first year."""
    years: list[dict[str, Any]] = []
    for row in rows:
        year = str(row["due_date"])[:4]
        if not years or years[-1]["year"] != year:
            years.append({"year": year, "rows": [], "open": False})
        years[-1]["rows"].append(row)
    for group in years:
        group["count"] = len(group["rows"])
        group["total"] = sum(Decimal(str(r["installment"])) for r in group["rows"])
        group["open"] = bool(opened) and any(opened(r) for r in group["rows"])
    if years and not any(g["open"] for g in years):
        years[0]["open"] = True
    return years


def loan_years(loan):
    """The loan's table by year, unfolded where the overdue installments and the next one are."""
    pending = [r for r in loan["rows"] if r.get("status") == "pendiente"]
    next_number = pending[0]["number"] if pending else None
    return schedule_years(
        loan["rows"], lambda r: r.get("status") == "vencida" or r["number"] == next_number
    )


SIMULATION_FIELDS = ("product_code", "amount", "term_months", "system", "frequency", "start_date")
APPLICATION_FIELDS = SIMULATION_FIELDS + ("purpose", "monthly_income", "monthly_expenses")
MONEY_FIELDS = ("amount", "monthly_income", "monthly_expenses")
CSRF_EXPIRED = "El formulario expiró. Vuelva a cargar la página e intente nuevamente."


def form_values(form, names):
    return {name: (form.get(name) or "").strip() for name in names}


def request_from(values):
    """(RPC body, page errors) of a form: empty optional fields left out, amounts read es-EC.

    A money field that is empty or reads two ways is left out of the body (the page says why)."""
    amounts, errors = read_amounts(values, [n for n in MONEY_FIELDS if n in values])
    errors.update(empty_errors(values, values.keys()))
    data = {}
    for name, value in values.items():
        if name == "start_date" and not value:
            continue
        if name in MONEY_FIELDS:
            if name in amounts:
                data[name] = amounts[name]
            continue
        data[name] = value
    return counts(data, ("term_months",)), errors


def shown_values(values):
    """The form as it is shown again: readable amounts in es-EC, anything else as typed."""
    return {
        name: amount_input_text(value) if name in MONEY_FIELDS else value
        for name, value in values.items()
    }


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


class CreditPages(GatewayParts):
    """Mixin of GatewayService."""

    def _products(self):
        return self.credit_rpc.list_products()["products"]

    def _page(self, request, template, principal, status=200, **context):
        schedule = context.get("schedule")
        if schedule and schedule.get("rows"):
            context["schedule_chart"] = charts.schedule_chart(schedule["rows"])
            context["schedule_years"] = schedule_years(schedule["rows"])
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
        return self._page(
            request, "credit/loan.html", principal, loan=named(loan), years=loan_years(loan)
        )

    @http("GET", "/creditos/<loan_number>/tabla.pdf")
    def page_loan_pdf(self, request, loan_number):
        principal = self.require_member(request)
        return self.loan_schedule_pdf(principal.member_number, loan_number)

    # --- 2.2 simulación -------------------------------------------------------------------

    @http("GET,POST", "/creditos/simulacion")
    def page_simulation(self, request):
        """The POST only checks the form: its result is the GET of the figures' own address
        (the same the PDF link uses), so Back and reload never resend a form."""
        principal = self.require_member(request)
        products = self._products()
        posted = request.method == "POST"
        if posted and not csrf_valid(request):
            raise BadRequest(CSRF_EXPIRED)
        values = form_values(request.form if posted else request.args, SIMULATION_FIELDS)
        schedule, errors, pdf_query = None, {}, None
        status = 200
        if posted or any(values.values()):
            data, errors = request_from(values)
            try:
                answer = named(self.credit_rpc.simulate(data))
                if not errors:
                    if posted:
                        return redirect("/creditos/simulacion?" + urlencode(data))
                    schedule, pdf_query = answer, urlencode(data)
            except ValidationError as exc:
                errors = merged_errors(exc.fields, errors)
            status = 422 if errors else 200
        return self._page(
            request,
            "credit/simulation.html",
            principal,
            status=status,
            products=products,
            values=shown_values(values),
            errors=errors,
            schedule=schedule,
            pdf_query=pdf_query,
        )

    @http("GET", "/creditos/simulacion.pdf")
    def page_simulation_pdf(self, request):
        principal = self.require_member(request)
        query = {k: v for k, v in request.args.to_dict().items() if k in SIMULATION_FIELDS}
        data, errors = request_from(query)
        if errors:
            raise ValidationError(fields=errors)
        return self.simulation_pdf(principal.member_number, data)

    # --- 2.3 solicitud --------------------------------------------------------------------

    @http("GET,POST", "/creditos/solicitud")
    def page_application(self, request):
        principal = self.require_member(request)
        if request.method == "GET":
            kept = results.take(principal.member_number, request.args.get(RESULT_PARAM, ""))
            if kept:  # the projection a POST just made (post/redirect/get)
                return self._application_page(request, principal, **kept)
            # "Solicitar este crédito" after a simulation: its figures fill the form
            values = form_values(request.args, SIMULATION_FIELDS)
            values.update({name: "" for name in APPLICATION_FIELDS if name not in values})
            return self._application_page(request, principal, values=shown_values(values))
        if not csrf_valid(request):
            raise BadRequest(CSRF_EXPIRED)
        values = form_values(request.form, APPLICATION_FIELDS)
        guarantors = guarantors_from(request.form)
        data, errors = request_from(values)
        data["guarantors"] = guarantors
        shown = {"values": shown_values(values), "guarantors": guarantors}
        try:
            if request.form.get("action") == "grabar" and not errors:
                # the form token made at Proyectar: a double click saves one application
                token = (request.form.get("form_token") or "").strip() or None
                created = self.credit_rpc.submit_application(principal.member_number, data, token)
                return redirect(
                    "/creditos/solicitudes?" + urlencode({"nueva": created["application_number"]})
                )
            answer = named(self.credit_rpc.project_application(principal.member_number, data))
        except ValidationError as exc:
            errors = merged_errors(exc.fields, errors)
        except Conflict as exc:
            # the same application is still in process: say which, with the way to withdraw it
            return self._application_page(
                request, principal, status=409, conflict=exc.message, **shown
            )
        if errors:
            return self._application_page(request, principal, status=422, errors=errors, **shown)
        kept = {**shown, "schedule": answer, "form_token": secrets.token_urlsafe(24)}
        result_id = results.keep(principal.member_number, kept)
        return redirect("/creditos/solicitud?" + urlencode({RESULT_PARAM: result_id}))

    def _application_page(
        self, request, principal, values, guarantors=(), status=200, errors=None, **context
    ):
        return self._page(
            request,
            "credit/application.html",
            principal,
            status=status,
            products=self._products(),
            values=values,
            guarantors=guarantor_inputs(guarantors),
            filled_guarantors=list(guarantors),
            errors=errors or {},
            **context,
        )

    @http("GET", "/creditos/solicitudes")
    def page_applications(self, request):
        principal = self.require_member(request)
        listed = self.credit_rpc.list_applications(principal.member_number)["applications"]
        applications = [
            {**application_view(a), "can_withdraw": a["status"] in IN_PROCESS} for a in listed
        ]
        new = request.args.get("nueva", "")
        created = next((a for a in applications if a["application_number"] == new), None)
        gone = request.args.get("desistida", "")
        withdrawn = next(
            (
                a
                for a in applications
                if a["application_number"] == gone and a["status"] == WITHDRAWN
            ),
            None,
        )
        return self._page(
            request,
            "credit/applications.html",
            principal,
            applications=applications,
            created=created,
            withdrawn=withdrawn,
            refusal=request.args.get("aviso") == "no-desistida" and gone,
        )

    @http("POST", "/creditos/solicitudes/<application_number>/desistir")
    def page_application_withdraw(self, request, application_number):
        """*Desistir* (after its confirmation): the list again, saying what happened."""
        principal = self.require_member(request)
        if not csrf_valid(request):
            raise BadRequest(CSRF_EXPIRED)
        try:
            self.credit_rpc.withdraw_application(principal.member_number, application_number)
        except Conflict:
            # moved on meanwhile (the core decided, or another tab withdrew it)
            return redirect(
                "/creditos/solicitudes?"
                + urlencode({"desistida": application_number, "aviso": "no-desistida"})
            )
        return redirect("/creditos/solicitudes?" + urlencode({"desistida": application_number}))

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
