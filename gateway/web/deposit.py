"""Pages of menu 3, Plazo fijo: the member's deposits and the term-deposit simulation."""

from urllib.parse import urlencode

from gateway.api.deposit import NO_DEPOSITS, SIMULATION_FIELDS, pdf_response
from gateway.http import http
from gateway.parts import GatewayParts
from gateway.web.amounts import empty_errors, merged_errors, read_amounts
from gateway.web.render import csrf_valid, redirect, render
from services.common.clock import CLOCK
from services.common.ecuador_locale import amount_input_text
from services.common.errors import BadRequest, ValidationError
from services.common.fields import counts

FORM_EXPIRED = "El formulario expiró. Vuelva a cargar la página e intente nuevamente."


def form_values(request):
    return {name: (request.form.get(name) or "").strip() for name in SIMULATION_FIELDS}


def rpc_args(form):
    """(simulate RPC arguments, page errors): an empty field is a missing one; the amount is
    read es-EC here (an unreadable or empty one is left out and answered by the page)."""
    args = {name: (form[name] or None) for name in SIMULATION_FIELDS}
    amounts, errors = read_amounts(form, ["amount"])
    args["amount"] = amounts.get("amount")
    errors.update(empty_errors(form, ["term_days"]))
    return counts(args, ("term_days",)), errors


def shown(form):
    return {**form, "amount": amount_input_text(form["amount"])}


class DepositPages(GatewayParts):
    @http("GET", "/plazo-fijo")
    def deposits_page(self, request):
        principal = self.require_member(request)
        return render(
            request,
            "plazo_fijo.html",
            principal=principal,
            deposits=self.deposit_rpc.list_deposits(principal.member_number),
            no_deposits=NO_DEPOSITS,
        )

    def _simulation_page(self, request, principal, form, projection=None, errors=None, status=200):
        return render(
            request,
            "plazo_fijo_simulacion.html",
            status=status,
            principal=principal,
            form=form,
            projection=projection,
            errors=errors or {},
            rates=self.deposit_rpc.rates(),
        )

    @http("GET", "/plazo-fijo/simulacion")
    def deposit_simulation_page(self, request):
        principal = self.require_member(request)
        if request.args.get("amount"):
            # the result of a POST (post/redirect/get), or a projection's own address
            form = {name: (request.args.get(name) or "").strip() for name in SIMULATION_FIELDS}
            args, errors = rpc_args(form)
            try:
                projection = self.deposit_rpc.simulate(**args)
            except ValidationError as exc:
                errors = merged_errors(exc.fields, errors)
            if errors:
                return self._simulation_page(
                    request, principal, shown(form), errors=errors, status=422
                )
            return self._simulation_page(request, principal, shown(form), projection=projection)
        form = {
            "amount": "",
            "term_days": "",
            "interest_payment": "maturity",
            "start_date": CLOCK.today().isoformat(),
        }
        return self._simulation_page(request, principal, form)

    @http("POST", "/plazo-fijo/simulacion")
    def deposit_simulation_submit(self, request):
        principal = self.require_member(request)
        if not csrf_valid(request):
            raise BadRequest(FORM_EXPIRED)
        form = form_values(request)
        args, errors = rpc_args(form)
        try:
            self.deposit_rpc.simulate(**args)  # refusals are said on the form itself
        except ValidationError as exc:
            errors = merged_errors(exc.fields, errors)
        if errors:
            return self._simulation_page(request, principal, shown(form), errors=errors, status=422)
        # post/redirect/get: the projection's own address (amount as read), never a POST's page
        query = {**form, "amount": args["amount"]}
        return redirect("/plazo-fijo/simulacion?" + urlencode(query))

    @http("POST", "/plazo-fijo/simulacion.pdf")
    def deposit_simulation_pdf_page(self, request):
        """The *Descargar PDF* button of a projection: the same fields, answered as a PDF."""
        principal = self.require_member(request)
        if not csrf_valid(request):
            raise BadRequest(FORM_EXPIRED)
        form = form_values(request)
        args, errors = rpc_args(form)
        try:
            if errors:
                raise ValidationError(fields=errors)
            rendered = self.deposit_simulation_pdf(principal, args)
        except ValidationError as exc:
            errors = merged_errors(exc.fields, errors)
            return self._simulation_page(request, principal, shown(form), errors=errors, status=422)
        return pdf_response(rendered, "inline")
