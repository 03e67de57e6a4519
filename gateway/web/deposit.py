"""Pages of menu 3, Plazo fijo: the member's deposits and the term-deposit simulation."""

import re
from datetime import date

from gateway.api.deposit import NO_DEPOSITS, SIMULATION_FIELDS, pdf_response
from gateway.http import http
from gateway.web.render import csrf_valid, render
from services.common.errors import BadRequest, ValidationError
from services.common.fields import counts
from services.common.money import canonical_amount

# "5.000,50" or "5000,5" (es-EC) → "5000.50"; anything else goes to the service as typed
_ES_AMOUNT = re.compile(r"^\d{1,3}(\.\d{3})*(,\d{1,2})?$|^\d+,\d{1,2}$")
FORM_EXPIRED = "El formulario expiró. Vuelva a cargar la página e intente nuevamente."


def normalize_amount(text):
    text = (text or "").strip().replace("$", "").replace(" ", "")
    if "," in text and _ES_AMOUNT.match(text):
        return text.replace(".", "").replace(",", ".")
    return text


def form_values(request):
    return {name: (request.form.get(name) or "").strip() for name in SIMULATION_FIELDS}


def rpc_args(form):
    """The form as the simulate RPC takes it (an empty field is a missing one)."""
    args = {name: (form[name] or None) for name in SIMULATION_FIELDS}
    if args["amount"]:
        args["amount"] = canonical_amount(normalize_amount(args["amount"]))
    return counts(args, ("term_days",))


class DepositPages:
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
        form = {
            "amount": "",
            "term_days": "",
            "interest_payment": "maturity",
            "start_date": date.today().isoformat(),
        }
        return self._simulation_page(request, principal, form)

    @http("POST", "/plazo-fijo/simulacion")
    def deposit_simulation_submit(self, request):
        principal = self.require_member(request)
        if not csrf_valid(request):
            raise BadRequest(FORM_EXPIRED)
        form = form_values(request)
        try:
            projection = self.deposit_rpc.simulate(**rpc_args(form))
        except ValidationError as exc:
            return self._simulation_page(request, principal, form, errors=exc.fields, status=422)
        return self._simulation_page(request, principal, form, projection=projection)

    @http("POST", "/plazo-fijo/simulacion.pdf")
    def deposit_simulation_pdf_page(self, request):
        """The *Imprimir* button of a projection: the same fields, answered as a PDF."""
        principal = self.require_member(request)
        if not csrf_valid(request):
            raise BadRequest(FORM_EXPIRED)
        form = form_values(request)
        try:
            rendered = self.deposit_simulation_pdf(principal, rpc_args(form))
        except ValidationError as exc:
            return self._simulation_page(request, principal, form, errors=exc.fields, status=422)
        return pdf_response(rendered, "inline")
