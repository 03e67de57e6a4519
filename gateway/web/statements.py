"""Pages of "Estado de cuenta" (/estado-de-cuenta): the statement of a savings account, its
balance chart, its CSV and PDF (long ones prepared in the background). The position page is
gateway/web/position.py."""

import base64
import logging
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from gateway.api.accounts import plausible_account_number, statement_range
from gateway.api.position import pdf_response
from gateway.http import http, json_response
from gateway.parts import GatewayParts
from gateway.web import charts, report_jobs
from gateway.web.render import csrf_valid, redirect, render
from gateway.web.statement_search import matching, read_search
from services.accounts.contracts import NEWEST_FIRST
from services.common.clock import CLOCK
from services.common.ecuador_locale import fecha
from services.common.errors import NotFound, ValidationError

NO_STORE = {"Cache-Control": "no-store"}

log = logging.getLogger("gateway.web.statements")

WEB_PAGE_SIZE = 50
# the form speaks Spanish; the API's field names are mapped onto its inputs
FORM_FIELDS = {"from": "desde", "to": "hasta", "page": "pagina", "page_size": "pagina"}
CSRF_MESSAGE = "La sesión del formulario expiró. Vuelva a intentarlo."


def _form_errors(fields):
    errors: dict[str, list[str]] = {}
    for name, messages in (fields or {}).items():
        errors.setdefault(FORM_FIELDS.get(name, name), []).extend(messages)
    return errors


def _balance_chart(line_call, statement, date_from, date_to):
    """The balance chart, or None: the chart is extra, the table of movements is the statement,
    so a chart that cannot be had never costs the member the page."""
    if line_call is None:
        return None
    try:
        line = line_call.result()
    except Exception as exc:  # noqa: BLE001  whatever failed, the page goes on without a chart
        log.warning("balance chart unavailable: %r", exc)
        return None
    daily = [(date.fromisoformat(d["date"]), d["balance"]) for d in line["days"]]
    return charts.balance_chart(
        daily, line["opening_balance"], date_from, date_to, statement["account_number"]
    )


class StatementPages(GatewayParts):
    def _statement_page(self, request, principal, values, status=200, errors=None):
        accounts = self.accounts_rpc.list_accounts(principal.member_number)
        today = CLOCK.today()
        month_start = today.replace(day=1)
        form = {
            "cuenta": values.get("cuenta") or (accounts[0]["account_number"] if accounts else ""),
            "desde": values.get("desde") or month_start.isoformat(),
            "hasta": values.get("hasta") or today.isoformat(),
        }
        form["buscar"] = " ".join((values.get("buscar") or "").split())
        search, search_errors = read_search(form["buscar"])
        statement = balance_chart = found = None
        errors = dict(errors or {})
        if search_errors:
            errors["buscar"] = search_errors
            status = 422
        if values.get("cuenta") and not errors:
            try:
                date_from, date_to, page, _ = statement_range(
                    {
                        "from": form["desde"],
                        "to": form["hasta"],
                        "page": values.get("pagina") or "1",
                    }
                )
                line = self._balance_line_call(principal, form["cuenta"], date_from, date_to)
                if search is None:
                    # on screen the latest movements come first (the PDF stays in date order)
                    statement = self.member_statement(
                        principal,
                        form["cuenta"],
                        date_from,
                        date_to,
                        page,
                        WEB_PAGE_SIZE,
                        NEWEST_FIRST,
                    )
                else:
                    statement, found = self._searched_statement(
                        principal, form["cuenta"], date_from, date_to, page, search
                    )
                balance_chart = _balance_chart(line, statement, date_from, date_to)
            except ValidationError as exc:
                errors = _form_errors(exc.fields)
                status = 422
        links = {}
        if statement:
            base = {"cuenta": form["cuenta"], "desde": form["desde"], "hasta": form["hasta"]}
            links["download"] = "/estado-de-cuenta/reporte?" + urlencode(base)
            links["csv"] = "/estado-de-cuenta/statement.csv?" + urlencode(base)
            if search is not None:
                base = {**base, "buscar": form["buscar"]}
                links["all"] = "/estado-de-cuenta?" + urlencode(
                    {k: v for k, v in base.items() if k != "buscar"}
                )
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
            balance_chart=balance_chart,
            found=found,
        )

    def _searched_statement(self, principal, account, date_from, date_to, page, search):
        """The statement with only the movements the search finds, 50 a page, and what they add
        up to ({count, debits, credits}); the range's balances and totals stay the statement's."""
        first, movements = self.statement_movements(principal, account, date_from, date_to)
        hits = matching(movements, search)
        total_pages = max(1, -(-len(hits) // WEB_PAGE_SIZE))
        if page > total_pages:
            raise ValidationError(fields={"page": ["La página no existe."]})
        shown = hits[(page - 1) * WEB_PAGE_SIZE : page * WEB_PAGE_SIZE]
        found = {
            "count": len(hits),
            "debits": sum((Decimal(m["debit"]) for m in hits), Decimal("0.00")),
            "credits": sum((Decimal(m["credit"]) for m in hits), Decimal("0.00")),
        }
        statement = {**first, "movements": shown, "page": page, "total_pages": total_pages}
        return statement, found

    @http("GET", "/estado-de-cuenta/statement.csv")
    def page_statement_csv(self, request):
        """The CSV beside the PDF: every movement of the range (gateway/statement_csv.py)."""
        principal = self.require_member(request)
        args = request.args
        try:
            date_from, date_to, _, _ = statement_range(
                {"from": args.get("desde"), "to": args.get("hasta")}
            )
            return self.statement_csv(principal, args.get("cuenta", ""), date_from, date_to)
        except ValidationError as exc:
            values = {k: args.get(k, "") for k in ("cuenta", "desde", "hasta")}
            errors = _form_errors(exc.fields)
            return self._statement_page(request, principal, values, status=422, errors=errors)

    def _balance_line_call(self, principal, account_number, date_from, date_to):
        """The chart's one-point-per-day balances, asked while the page of movements is read
        (the page shows 50 movements; the chart covers the whole range)."""
        if not plausible_account_number(account_number):
            return None
        return self.accounts_rpc.daily_balances.call_async(
            principal.member_number, account_number, date_from.isoformat(), date_to.isoformat()
        )

    @http("GET", "/estado-de-cuenta")
    def page_statement(self, request):
        principal = self.require_member(request)
        return self._statement_page(request, principal, request.args)

    @http("POST", "/estado-de-cuenta")
    def page_statement_process(self, request):
        principal = self.require_member(request)
        names = ("cuenta", "desde", "hasta", "buscar")
        values = {k: request.form.get(k, "").strip() for k in names}
        if not csrf_valid(request):
            return self._statement_page(
                request, principal, values, status=400, errors={"_form": [CSRF_MESSAGE]}
            )
        if not values["cuenta"]:
            errors = {"cuenta": ["Seleccione una cuenta."]}
            return self._statement_page(request, principal, values, status=422, errors=errors)
        # post/redirect/get: the statement's own address, so Back and reload resend nothing
        return redirect("/estado-de-cuenta?" + urlencode({k: v for k, v in values.items() if v}))

    @http("GET", "/estado-de-cuenta/reporte")
    def page_statement_report(self, request):
        principal = self.require_member(request)
        args = request.args
        try:
            date_from, date_to, _, _ = statement_range(
                {"from": args.get("desde"), "to": args.get("hasta")}
            )
            account = args.get("cuenta", "")
            if not plausible_account_number(account):
                return self.statement_pdf(principal, account, date_from, date_to)  # its 404
            # one movement read: the range is checked and the movements counted
            first = self.member_statement(principal, account, date_from, date_to, 1, 1)
            if first["total_movements"] <= report_jobs.inline_limit():
                return self.statement_pdf(principal, account, date_from, date_to)
            return self._statement_in_background(principal, account, date_from, date_to)
        except ValidationError as exc:
            values = {k: args.get(k, "") for k in ("cuenta", "desde", "hasta")}
            errors = _form_errors(exc.fields)
            return self._statement_page(request, principal, values, status=422, errors=errors)

    # --- long statements: prepared in the background (gateway/web/report_jobs.py) -----------

    def _statement_in_background(self, principal, account, date_from, date_to):
        store = self.report_jobs.store
        filename = f"estado-de-cuenta-{account}-{date_from}-{date_to}.pdf"
        job_id = store.create(principal.member_number, filename)
        store.update(
            job_id,
            title=f"Estado de cuenta {account}, del {fecha(date_from)} al {fecha(date_to)}",
            back="/estado-de-cuenta?"
            + urlencode({"cuenta": account, "desde": date_from, "hasta": date_to}),
        )
        self.report_jobs.spawn(
            self._prepare_statement, job_id, principal, account, date_from, date_to
        )
        return redirect(f"/estado-de-cuenta/reporte/{job_id}")

    def _prepare_statement(self, job_id, principal, account, date_from, date_to):
        store = self.report_jobs.store

        def read(done, total):
            # reading the movements is the first 40 %; printing the rest
            store.update(
                job_id,
                status="running",
                progress=int(40 * done / max(total, 1)),
                step=f"Leyendo sus movimientos ({done} de {total})",
            )

        try:
            answer = self.render_statement(
                principal,
                account,
                date_from,
                date_to,
                timeout=report_jobs.background_timeout(),
                progress=read,
            )
            store.update(job_id, progress=40, step="Preparando el PDF")
            store.save_pdf(job_id, base64.b64decode(answer["pdf_base64"]))
            store.update(job_id, status="ready", progress=100, step="Listo")
        except Exception as exc:  # noqa: BLE001  the member is told; the log has the cause
            log.warning("statement %s in the background failed: %r", job_id, exc)
            store.update(
                job_id,
                status="failed",
                step="No se pudo preparar el estado de cuenta. Intente nuevamente.",
            )

    @http("GET", "/estado-de-cuenta/reporte/<job_id>")
    def page_statement_job(self, request, job_id):
        principal = self.require_member(request)
        job = self.report_jobs.store.get(job_id, principal.member_number)
        if job is None:
            raise NotFound("El reporte no existe o ya expiró.")
        if request.args.get("formato") == "json":
            fields = ("status", "progress", "step")
            return json_response({k: job.get(k) for k in fields}, headers=NO_STORE)
        return render(request, "report_job.html", principal=principal, job=job, job_id=job_id)

    @http("GET", "/estado-de-cuenta/reporte/<job_id>/pdf")
    def page_statement_job_pdf(self, request, job_id):
        principal = self.require_member(request)
        store = self.report_jobs.store
        job = store.get(job_id, principal.member_number)
        if job is None or job.get("status") != "ready":
            raise NotFound("El reporte no existe o ya expiró.")
        answer = {
            "filename": job["filename"],
            "pdf_base64": base64.b64encode(store.pdf_path(job_id).read_bytes()).decode(),
        }
        return pdf_response(answer)
