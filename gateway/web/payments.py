"""Pages of Transferencias (docs/pages.md, "Transferencias"): a new transfer, the beneficiaries,
the orders' history, the code step of an order, the order's page and its receipt (comprobante),
and the limits; and *Pagar cuota* from a loan's page (docs/pages.md, "Pagar cuota"), which ends
in the same code step, order page and receipt.

Every change is a POST with the form's CSRF token, answered by a redirect (post/redirect/get).
The challenge that payments opened for an order or a beneficiary (its id and method) rides in a
signed, HttpOnly cookie bound to that order, so the code page can offer "send a new code" without
the challenge's id ever being in an address.
"""

import base64
import hashlib
import hmac
import json

from gateway.api.auth import client_ip
from gateway.api.payments import KIND_LABELS, receipt_response
from gateway.http import http
from gateway.parts import GatewayParts
from gateway.security import cookie_name, secret_key
from gateway.web import second_factor as factor
from gateway.web.amounts import read_amounts
from gateway.web.render import csrf_valid, redirect, render
from services.common.ecuador_locale import amount_input_text
from services.common.errors import (
    BadRequest,
    ChallengeExpired,
    Conflict,
    Forbidden,
    InvalidCode,
    Locked,
    NotFound,
    QuoteChanged,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)

ORDER_COOKIE = "portal_order_challenge"
CSRF_EXPIRED = "El formulario expiró. Vuelva a cargar la página e intente nuevamente."
STATUS_LABELS = {
    "por_confirmar": "Por confirmar",
    "confirmando": "Enviada",
    "enviada": "Enviada",
    "en_verificacion": "En verificación",
    "completada": "Completada",
    "rechazada": "Rechazada",
    "anulada": "Anulada",
}
STATUS_TEXT = {
    "por_confirmar": "Falta confirmarla con su código.",
    "confirmando": "La cooperativa está procesando su orden.",
    "enviada": "La cooperativa está procesando su orden. Esta página se actualiza sola.",
    "en_verificacion": (
        "La cooperativa está verificando su orden: el dinero sigue retenido hasta que se "
        "resuelva. No la repita."
    ),
    "completada": "La transferencia se realizó.",
    "rechazada": "La cooperativa no realizó la transferencia: el dinero no salió de su cuenta.",
    "anulada": "La orden se anuló: no se movió dinero.",
}
# each step of the order's history (its timeline), as the member reads it
STEP_LABELS = {
    "por_confirmar": "Ingresada",
    "confirmando": "Confirmada con su código",
    "enviada": "Enviada a la cooperativa",
    "en_verificacion": "En verificación",
    "completada": "Completada",
    "rechazada": "Rechazada",
    "anulada": "Anulada",
}
# a loan payment says what happened in its own words
PAYMENT_TEXT = {
    "completada": "El pago se realizó: sus cuotas quedan pagadas.",
    "rechazada": "La cooperativa no realizó el pago: el dinero no salió de su cuenta.",
}
REFRESHING = ("confirmando", "enviada")
REFRESH_SECONDS = 3
METHOD_LABELS = {
    "email_code": "El código que le enviamos por correo",
    "totp": "El código de su aplicación de autenticación",
}
DONE = {
    "beneficiario": "El beneficiario quedó registrado.",
    "beneficiario-eliminado": "El beneficiario fue eliminado.",
    "limites": "Sus límites bajaron desde ahora.",
    "limites-subidos": "Sus límites subieron desde ahora.",
}


def _mac(payload):
    """The order challenge's own MAC (its own domain, so no other signed value passes for it)."""
    digest = hmac.new(secret_key(), b"order-challenge|" + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pack_order_challenge(subject, confirmation):
    """The cookie for the challenge of `subject` ('t:<order>' or 'b:<beneficiary>')."""
    facts = {
        "s": subject,
        "c": str(confirmation.get("challenge_id") or ""),
        "m": [m for m in confirmation.get("methods") or () if m in METHOD_LABELS],
        "e": confirmation.get("challenge_expires_at"),
    }
    payload = base64.urlsafe_b64encode(json.dumps(facts, separators=(",", ":")).encode())
    return payload.decode() + "." + _mac(payload)


def order_challenge(request, subject):
    """{challenge_id, methods, expires_at} of this browser's challenge for `subject`, or None."""
    value = request.cookies.get(cookie_name(request, ORDER_COOKIE)) or ""
    payload, _, mac = value.partition(".")
    if not payload or len(value) > 2000:
        return None
    if not hmac.compare_digest(_mac(payload.encode()), mac):
        return None
    try:
        facts = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    if facts.get("s") != subject or not facts.get("c"):
        return None
    return {"challenge_id": facts["c"], "methods": facts.get("m") or [], "expires_at": facts["e"]}


def set_order_challenge(response, request, value):
    response.set_cookie(
        cookie_name(request, ORDER_COOKIE),
        value,
        max_age=10 * 60,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
        path="/transferencias",
    )


def order_view(order):
    """An order as the member reads it: the status in Spanish, what it means."""
    status = order["status"]
    texts = {**STATUS_TEXT, **PAYMENT_TEXT} if order.get("kind") == "loan_payment" else STATUS_TEXT
    return {
        **order,
        "status_label": STATUS_LABELS.get(status, status),
        "status_text": texts.get(status, ""),
        "kind_label": KIND_LABELS.get(order.get("kind"), order.get("kind")),
        "steps": [
            {"label": STEP_LABELS.get(step["status"], step["status"]), "at": step["at"]}
            for step in order.get("timeline") or ()
        ],
    }


def _form(request, names, limit=200):
    return {name: (request.form.get(name) or "")[:limit].strip() for name in names}


def attempts_text(exc):
    left = exc.extra.get("attempts_left")
    if isinstance(left, int):
        return f"El código no es correcto. Le quedan {left} intento{'s' if left != 1 else ''}."
    return "El código no es correcto."


class PaymentsPages(GatewayParts):
    """Mixin of GatewayService."""

    # --- Transferencias -------------------------------------------------------------------

    def _transfers_page(self, request, principal, status=200, errors=None, form=None, flashes=()):
        member = principal.member_number
        accounts = self.accounts_rpc.list_accounts(member)
        beneficiaries = self.payments_rpc.list_beneficiaries(member)["beneficiaries"]
        orders = self.payments_rpc.list_orders(member)["transfers"]
        orders = sorted(orders, key=lambda o: o.get("created_at") or "", reverse=True)
        return render(
            request,
            "payments/transfers.html",
            status=status,
            principal=principal,
            flashes=list(flashes),
            sources=[a for a in accounts if a["product"] == "AHORRO_VISTA"],
            own_targets=[a for a in accounts if a["product"] != "CERTIFICADOS"],
            beneficiaries=[b for b in beneficiaries if b["status"] == "activo"],
            orders=[order_view(o) for o in orders],
            errors=errors or {},
            form=form or {},
        )

    @http("GET", "/transferencias")
    def page_transfers(self, request):
        principal = self.require_member(request)
        notice = DONE.get(request.args.get("aviso", ""))
        return self._transfers_page(
            request, principal, flashes=[("info", notice)] if notice else []
        )

    @http("POST", "/transferencias")
    def page_transfer_create(self, request):
        principal = self.require_member(request)
        form = _form(request, ("from_account", "destination", "amount", "description"))
        if not csrf_valid(request):
            return self._transfers_page(request, principal, 400, flashes=[("error", CSRF_EXPIRED)])
        amounts, errors = read_amounts(form, ["amount"])
        destination = form["destination"]
        body = {
            "member_number": principal.member_number,
            "from_account": form["from_account"],
            "amount": amounts.get("amount", "0.00"),
            "description": form["description"],
            "client_ip": client_ip(request),
            "session_id": principal.session_id,
            "user_agent": factor.user_agent(request) or None,
            "channel": "web",
        }
        if destination.startswith("b:"):
            body["beneficiary_id"] = destination[2:]
        elif destination.startswith("c:"):
            body["to_account"] = destination[2:]
        else:
            errors["destination"] = ["Elija la cuenta de destino o un beneficiario."]
        if len(form["description"]) > 60:
            errors["description"] = ["La descripción admite hasta 60 caracteres."]
        if not form["from_account"]:
            errors["from_account"] = ["Elija la cuenta de origen."]
        if errors:
            return self._transfers_page(request, principal, 422, errors, form)
        try:
            created = self.payments_rpc.create_transfer(**body)
        except ValidationError as exc:
            errors = dict(exc.fields)
            if "to_account" in errors or "beneficiary_id" in errors:
                errors["destination"] = errors.pop("to_account", []) + errors.pop(
                    "beneficiary_id", []
                )
            form["amount"] = amount_input_text(amounts.get("amount")) or form["amount"]
            return self._transfers_page(request, principal, 422, errors, form)
        except (NotFound, Forbidden, Locked, ServiceUnavailable) as exc:
            return self._transfers_page(
                request, principal, 422, {}, form, flashes=[("error", exc.message)]
            )
        order_id = created["transfer_id"]
        response = redirect(f"/transferencias/{order_id}/confirmar")
        set_order_challenge(
            response, request, pack_order_challenge("t:" + order_id, created["confirmation"])
        )
        return response

    # --- the code step of an order ----------------------------------------------------------

    def _pay_code_page(self, request, principal, subject, action, summary, status=200, flashes=()):
        challenge = order_challenge(request, subject) or {}
        methods = challenge.get("methods") or ["totp", "email_code"]
        return render(
            request,
            "payments/code.html",
            status=status,
            principal=principal,
            flashes=list(flashes),
            summary=summary,
            action=action,
            methods=methods,
            method=methods[0],
            method_labels=METHOD_LABELS,
            reference=factor.reference(challenge["challenge_id"]) if challenge else "",
            expires_at=challenge.get("expires_at"),
            can_resend=bool(challenge) and "email_code" in methods,
        )

    def _pay_order(self, principal, order_id):
        if not order_id or len(order_id) > 36:
            raise NotFound("La orden no existe.")
        return order_view(self.payments_rpc.get_order(principal.member_number, order_id))

    @http("GET", "/transferencias/<order_id>/confirmar")
    def page_transfer_code(self, request, order_id):
        principal = self.require_member(request)
        order = self._pay_order(principal, order_id)
        if order["status"] != "por_confirmar":
            return redirect(f"/transferencias/{order_id}")
        flashes = []
        if request.args.get("reenviado"):
            flashes.append(("info", "Le enviamos un código nuevo: el anterior ya no sirve."))
        return self._pay_code_page(
            request,
            principal,
            "t:" + order_id,
            f"/transferencias/{order_id}",
            order,
            flashes=flashes,
        )

    @http("POST", "/transferencias/<order_id>/confirmar")
    def page_transfer_confirm(self, request, order_id):
        principal = self.require_member(request)
        order = self._pay_order(principal, order_id)
        subject, action = "t:" + order_id, f"/transferencias/{order_id}"
        return self._pay_confirm(
            request,
            lambda status, flashes: self._pay_code_page(
                request, principal, subject, action, order, status, flashes
            ),
            lambda method, code: self.payments_rpc.confirm_order(
                member_number=principal.member_number,
                order_id=order_id,
                method=method,
                code=code,
                client_ip=client_ip(request),
                session_id=principal.session_id,
                user_agent=factor.user_agent(request) or None,
                channel="web",
            ),
            # the order's own page says where it stands now (a moved quote: anulada)
            lambda message: self._pay_order_page(
                request, principal, order_id, [("error", message)], 409
            ),
            f"/transferencias/{order_id}",
            ends=(ChallengeExpired, Conflict, Locked, ServiceUnavailable, QuoteChanged),
        )

    def _pay_confirm(
        self, request, code_page, confirm, ended, done, ends=(ChallengeExpired, Conflict, Locked)
    ):
        """The code step's POST, the same for an order, a beneficiary and a raised limit:
        `code_page(status, flashes)` shows the code page again (a wrong or malformed code, an
        expired form), `confirm(method, code)` asks payments, `ended(message)` is the page of
        what can no longer be confirmed (one of `ends`); confirmed, the challenge's cookie goes
        and the member is sent to `done`."""
        if not csrf_valid(request):
            return code_page(400, [("error", CSRF_EXPIRED)])
        form = _form(request, ("method", "code"), limit=20)
        try:
            confirm(form["method"], form["code"])
        except InvalidCode as exc:
            return code_page(422, [("error", attempts_text(exc))])
        except ValidationError as exc:
            return code_page(
                422, [("error", " ".join(sum(exc.fields.values(), [])) or exc.message)]
            )
        except ends as exc:
            return ended(exc.message)
        response = redirect(done)
        response.delete_cookie(
            cookie_name(request, ORDER_COOKIE),
            path="/transferencias",
            secure=request.scheme == "https",
        )
        return response

    def _pay_resend(self, request, subject):
        challenge = order_challenge(request, subject)
        if not csrf_valid(request) or challenge is None:
            raise BadRequest(CSRF_EXPIRED)
        self.auth_rpc.resend_second_factor_code(
            challenge_id=challenge["challenge_id"], client_ip=client_ip(request)
        )

    @http("POST", "/transferencias/<order_id>/reenviar")
    def page_transfer_resend(self, request, order_id):
        principal = self.require_member(request)
        order = self._pay_order(principal, order_id)
        try:
            self._pay_resend(request, "t:" + order_id)
        except (RateLimited, ChallengeExpired) as exc:
            return self._pay_code_page(
                request,
                principal,
                "t:" + order_id,
                f"/transferencias/{order_id}",
                order,
                429 if isinstance(exc, RateLimited) else 410,
                [("error", exc.message)],
            )
        return redirect(f"/transferencias/{order_id}/confirmar?reenviado=1")

    # --- the order's page and its receipt ---------------------------------------------------

    def _pay_order_page(self, request, principal, order_id, flashes=(), status=200):
        order = self._pay_order(principal, order_id)
        refresh = order["status"] in REFRESHING
        return render(
            request,
            "payments/order.html",
            status=status,
            principal=principal,
            flashes=list(flashes),
            order=order,
            refresh_seconds=REFRESH_SECONDS if refresh else None,
        )

    @http("GET", "/transferencias/<order_id>")
    def page_transfer(self, request, order_id):
        principal = self.require_member(request)
        return self._pay_order_page(request, principal, order_id)

    @http("GET", "/transferencias/<order_id>/comprobante.pdf")
    def page_transfer_receipt(self, request, order_id):
        principal = self.require_member(request)
        return receipt_response(self, principal, self._pay_order(principal, order_id))

    # --- beneficiaries ----------------------------------------------------------------------

    @http("GET", "/transferencias/beneficiarios")
    def page_beneficiaries(self, request):
        """The address a refused beneficiary form leaves in the browser: reloading it shows the
        list and the form on Transferencias, not an order that does not exist."""
        self.require_member(request)
        return redirect("/transferencias#beneficiaries-title")

    @http("POST", "/transferencias/beneficiarios")
    def page_beneficiary_add(self, request):
        principal = self.require_member(request)
        form = _form(request, ("alias", "account_number", "identification"), limit=40)
        if not csrf_valid(request):
            return self._transfers_page(request, principal, 400, flashes=[("error", CSRF_EXPIRED)])
        try:
            added = self.payments_rpc.add_beneficiary(
                member_number=principal.member_number,
                alias=form["alias"],
                account_number=form["account_number"],
                identification=form["identification"],
            )
        except ValidationError as exc:
            errors = {"b_" + k: v for k, v in exc.fields.items()}
            return self._transfers_page(
                request, principal, 422, errors, {"b_" + k: v for k, v in form.items()}
            )
        except RateLimited as exc:  # the day's 5 attempts are spent
            return self._transfers_page(request, principal, 429, flashes=[("error", exc.message)])
        except (Forbidden, Locked, ServiceUnavailable, NotFound) as exc:
            return self._transfers_page(request, principal, 422, flashes=[("error", exc.message)])
        beneficiary_id = added["beneficiary_id"]
        response = redirect(f"/transferencias/beneficiarios/{beneficiary_id}/confirmar")
        set_order_challenge(
            response, request, pack_order_challenge("b:" + beneficiary_id, added["confirmation"])
        )
        return response

    def _pay_beneficiary(self, principal, beneficiary_id):
        listed = self.payments_rpc.list_beneficiaries(principal.member_number)["beneficiaries"]
        found = next((b for b in listed if b["beneficiary_id"] == beneficiary_id), None)
        if found is None:
            raise NotFound("El beneficiario no existe.")
        return found

    def _pay_beneficiary_code_page(self, request, principal, beneficiary, status=200, flashes=()):
        beneficiary_id = beneficiary["beneficiary_id"]
        return self._pay_code_page(
            request,
            principal,
            "b:" + beneficiary_id,
            f"/transferencias/beneficiarios/{beneficiary_id}",
            {"beneficiary": beneficiary},
            status,
            flashes,
        )

    @http("GET", "/transferencias/beneficiarios/<beneficiary_id>/confirmar")
    def page_beneficiary_code(self, request, beneficiary_id):
        principal = self.require_member(request)
        beneficiary = self._pay_beneficiary(principal, beneficiary_id)
        if beneficiary["status"] != "por_confirmar":
            return redirect("/transferencias")
        flashes = []
        if request.args.get("reenviado"):
            flashes.append(("info", "Le enviamos un código nuevo: el anterior ya no sirve."))
        return self._pay_beneficiary_code_page(request, principal, beneficiary, flashes=flashes)

    @http("POST", "/transferencias/beneficiarios/<beneficiary_id>/confirmar")
    def page_beneficiary_confirm(self, request, beneficiary_id):
        principal = self.require_member(request)
        beneficiary = self._pay_beneficiary(principal, beneficiary_id)
        return self._pay_confirm(
            request,
            lambda status, flashes: self._pay_beneficiary_code_page(
                request, principal, beneficiary, status, flashes
            ),
            lambda method, code: self.payments_rpc.confirm_beneficiary(
                member_number=principal.member_number,
                beneficiary_id=beneficiary_id,
                method=method,
                code=code,
            ),
            lambda message: self._transfers_page(
                request, principal, 409, flashes=[("error", message)]
            ),
            "/transferencias?aviso=beneficiario",
        )

    @http("POST", "/transferencias/beneficiarios/<beneficiary_id>/reenviar")
    def page_beneficiary_resend(self, request, beneficiary_id):
        principal = self.require_member(request)
        beneficiary = self._pay_beneficiary(principal, beneficiary_id)
        try:
            self._pay_resend(request, "b:" + beneficiary_id)
        except (RateLimited, ChallengeExpired) as exc:
            return self._pay_beneficiary_code_page(
                request, principal, beneficiary, 422, [("error", exc.message)]
            )
        return redirect(f"/transferencias/beneficiarios/{beneficiary_id}/confirmar?reenviado=1")

    @http("POST", "/transferencias/beneficiarios/<beneficiary_id>/eliminar")
    def page_beneficiary_delete(self, request, beneficiary_id):
        principal = self.require_member(request)
        if not csrf_valid(request):
            raise BadRequest(CSRF_EXPIRED)
        self.payments_rpc.delete_beneficiary(
            member_number=principal.member_number, beneficiary_id=beneficiary_id
        )
        return redirect("/transferencias?aviso=beneficiario-eliminado")

    # --- limits -----------------------------------------------------------------------------

    def _pay_limits_page(self, request, principal, status=200, errors=None, form=None, flashes=()):
        limits = self.payments_rpc.get_limits(principal.member_number)
        return render(
            request,
            "payments/limits.html",
            status=status,
            principal=principal,
            flashes=list(flashes),
            limits=limits,
            errors=errors or {},
            form=form
            or {
                "per_transfer": amount_input_text(limits["per_transfer"]),
                "daily_to_others": amount_input_text(limits["daily_to_others"]),
            },
        )

    @http("GET", "/transferencias/limites")
    def page_limits(self, request):
        principal = self.require_member(request)
        notice = DONE.get(request.args.get("aviso", ""))
        return self._pay_limits_page(
            request, principal, flashes=[("info", notice)] if notice else []
        )

    @http("POST", "/transferencias/limites")
    def page_limits_lower(self, request):
        principal = self.require_member(request)
        form = _form(request, ("per_transfer", "daily_to_others"), limit=40)
        if not csrf_valid(request):
            return self._pay_limits_page(request, principal, 400, flashes=[("error", CSRF_EXPIRED)])
        amounts, errors = read_amounts(form, ["per_transfer", "daily_to_others"])
        if not errors:
            try:
                answer = self.payments_rpc.change_limits(
                    principal.member_number, amounts["per_transfer"], amounts["daily_to_others"]
                )
            except ValidationError as exc:
                errors = dict(exc.fields)
            except (Forbidden, Locked, RateLimited, ServiceUnavailable) as exc:
                return self._pay_limits_page(
                    request, principal, 422, form=form, flashes=[("error", exc.message)]
                )
            else:
                if "change_id" not in answer:  # lowered: in effect now
                    return redirect("/transferencias/limites?aviso=limites")
                change_id = answer["change_id"]
                response = redirect(f"/transferencias/limites/cambios/{change_id}/confirmar")
                set_order_challenge(
                    response,
                    request,
                    pack_order_challenge("l:" + change_id, answer["confirmation"]),
                )
                return response
        return self._pay_limits_page(request, principal, 422, errors, form)

    # --- a raise of the limits, confirmed with the code -------------------------------------

    def _pay_limit_change(self, principal, change_id):
        if not change_id or len(change_id) > 36:
            raise NotFound("El cambio de límites no existe.")
        return self.payments_rpc.get_limit_change(principal.member_number, change_id)

    def _pay_limit_code_page(self, request, principal, change, status=200, flashes=()):
        change_id = change["change_id"]
        return self._pay_code_page(
            request,
            principal,
            "l:" + change_id,
            f"/transferencias/limites/cambios/{change_id}",
            {"limits": change},
            status,
            flashes,
        )

    @http("GET", "/transferencias/limites/cambios/<change_id>/confirmar")
    def page_limit_change_code(self, request, change_id):
        principal = self.require_member(request)
        change = self._pay_limit_change(principal, change_id)
        if change["status"] != "por_confirmar":
            return redirect("/transferencias/limites")
        flashes = []
        if request.args.get("reenviado"):
            flashes.append(("info", "Le enviamos un código nuevo: el anterior ya no sirve."))
        return self._pay_limit_code_page(request, principal, change, flashes=flashes)

    @http("POST", "/transferencias/limites/cambios/<change_id>/confirmar")
    def page_limit_change_confirm(self, request, change_id):
        principal = self.require_member(request)
        change = self._pay_limit_change(principal, change_id)
        return self._pay_confirm(
            request,
            lambda status, flashes: self._pay_limit_code_page(
                request, principal, change, status, flashes
            ),
            lambda method, code: self.payments_rpc.confirm_limit_change(
                member_number=principal.member_number,
                change_id=change_id,
                method=method,
                code=code,
            ),
            lambda message: self._pay_limits_page(
                request, principal, 409, flashes=[("error", message)]
            ),
            "/transferencias/limites?aviso=limites-subidos",
        )

    @http("POST", "/transferencias/limites/cambios/<change_id>/reenviar")
    def page_limit_change_resend(self, request, change_id):
        principal = self.require_member(request)
        change = self._pay_limit_change(principal, change_id)
        try:
            self._pay_resend(request, "l:" + change_id)
        except (RateLimited, ChallengeExpired) as exc:
            return self._pay_limit_code_page(
                request, principal, change, 422, [("error", exc.message)]
            )
        return redirect(f"/transferencias/limites/cambios/{change_id}/confirmar?reenviado=1")

    # --- Pagar cuota (from the loan's page) ---------------------------------------------------

    def _loan_payment_page(
        self, request, principal, loan_number, status=200, errors=None, form=None, flashes=()
    ):
        """What paying the loan costs today, installment by installment, and the account it is
        paid from; a loan that cannot be paid online says why instead of the form."""
        member = principal.member_number
        loan = self.credit_rpc.get_loan(member, loan_number)  # another member's: 404
        quote, refusal = None, None
        try:
            quote = self.credit_rpc.loan_payment_quote(member, loan_number)
        except ValidationError as exc:
            refusal = " ".join(sum(exc.fields.values(), [])) or exc.message
        rows = {row["number"]: row for row in loan["rows"]}
        accounts = self.accounts_rpc.list_accounts(member)
        return render(
            request,
            "payments/loan_payment.html",
            status=status,
            principal=principal,
            flashes=list(flashes),
            loan=loan,
            quote=quote,
            refusal=refusal,
            paid_rows=[rows[n] for n in quote["installment_numbers"] if n in rows] if quote else [],
            sources=[a for a in accounts if a["product"] == "AHORRO_VISTA"],
            errors=errors or {},
            form=form or {},
        )

    @http("GET", "/creditos/<loan_number>/pagar")
    def page_loan_payment(self, request, loan_number):
        principal = self.require_member(request)
        return self._loan_payment_page(request, principal, loan_number)

    @http("POST", "/creditos/<loan_number>/pagar")
    def page_loan_payment_create(self, request, loan_number):
        principal = self.require_member(request)
        form = _form(request, ("from_account", "amount", "installment_numbers", "as_of"))
        if not csrf_valid(request):
            return self._loan_payment_page(
                request, principal, loan_number, 400, flashes=[("error", CSRF_EXPIRED)]
            )
        if not form["from_account"]:
            return self._loan_payment_page(
                request,
                principal,
                loan_number,
                422,
                {"from_account": ["Elija la cuenta de la que se paga."]},
                form,
            )
        numbers = [int(n) for n in form["installment_numbers"].split(",") if n.isdigit()]
        try:
            created = self.payments_rpc.create_loan_payment(
                member_number=principal.member_number,
                loan_number=loan_number,
                from_account=form["from_account"],
                amount=form["amount"],
                installment_numbers=numbers,
                as_of=form["as_of"] or None,
                client_ip=client_ip(request),
                session_id=principal.session_id,
                user_agent=factor.user_agent(request) or None,
                channel="web",
            )
        except QuoteChanged as exc:
            # the page shows the new quote: the member reads it and continues again
            return self._loan_payment_page(
                request, principal, loan_number, 409, flashes=[("error", exc.message)]
            )
        except ValidationError as exc:
            message = " ".join(sum(exc.fields.values(), [])) or exc.message
            return self._loan_payment_page(
                request, principal, loan_number, 422, form=form, flashes=[("error", message)]
            )
        except (Conflict, Forbidden, Locked, ServiceUnavailable) as exc:
            return self._loan_payment_page(
                request, principal, loan_number, 409, form=form, flashes=[("error", exc.message)]
            )
        order_id = created["payment_id"]
        response = redirect(f"/transferencias/{order_id}/confirmar")
        set_order_challenge(
            response, request, pack_order_challenge("t:" + order_id, created["confirmation"])
        )
        return response
