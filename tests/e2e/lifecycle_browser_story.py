"""The application lifecycle in a real browser (run by tests/browser_runner.py, outside eventlet):
a member saves an application; later, after the core's decisions, the member reads them."""

import json
import time

PASSWORDS = {"maria": "Socia-2026!", "jose": "Socio-2026!"}


def login(page, base, username):
    """/login, and the second factor's code when this browser is not a remembered device."""
    from tests.helpers import browser_login

    browser_login(page, base, username, PASSWORDS[username])


def apply(page, base, username):
    """Saves an application (Proyectar, then Grabar); prints its number."""
    login(page, base, username)
    page.goto(base + "/creditos/solicitud")
    page.select_option("#product_code", "CONSUMO")
    page.fill("#amount", "3000")
    page.fill("#term_months", "12")
    page.select_option("#system", "french")
    page.select_option("#frequency", "monthly")
    page.fill("#purpose", "Mejoras en la vivienda")
    page.fill("#monthly_income", "1900")
    page.fill("#monthly_expenses", "700")
    with page.expect_navigation():
        page.click("#proyectar")
    with page.expect_navigation():
        page.click("#grabar")
    notice = page.inner_text("#application-created")
    number = notice.split("Su solicitud ", 1)[1].split(" ", 1)[0]
    print(json.dumps({"application_number": number}))


def read_decision(page, base, username, application_number, expected, timeout=20):
    """Opens "Mis solicitudes" until the application shows `expected`; prints what it shows."""
    login(page, base, username)
    section = f"#solicitud-{application_number}"
    deadline = time.monotonic() + timeout
    while True:
        page.goto(base + "/creditos/solicitudes")
        status = page.inner_text(f"{section} .application-status")
        if status == expected or time.monotonic() > deadline:
            break
        page.wait_for_timeout(300)  # the page is static: ask again
    print(
        json.dumps(
            {
                "status": status,
                "reason": page.inner_text(f"{section} .status-reason"),
                "history": page.locator(f"{section} .status-history li").all_inner_texts(),
                "row": page.inner_text(f"tr[data-application='{application_number}']"),
            },
            ensure_ascii=False,
        )
    )
