"""Where a member goes back to after logging in again (issue 9, "session feel").

A page asked without a live session redirects to /login with `next` (the page the member was on)
and, when the session had ended by a timeout, `aviso` saying so. After the login the portal
returns to `next` — but only to a path of this portal: `next` comes from the address bar, and a
login page that sends people wherever `next` says is an open redirect.
"""

from urllib.parse import urlencode, urlsplit

MAX_NEXT = 500
# pages that make no sense to return to (POST-only or the login itself)
NOT_RETURNABLE = ("/login", "/logout", "/sesion/continuar")
REASON_NOTICES = {"idle_timeout": "inactividad", "absolute_timeout": "expirada"}


def safe_next(value):
    """`value` when it is a local path of the portal, else None.

    Refused: anything not starting with one "/" ("//host" and "/\\host" are other sites to a
    browser), schemes, hosts, control characters and spaces (browsers drop tabs and newlines, so
    "/\\t/host" would become "//host"), and the pages of NOT_RETURNABLE.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in NOT_RETURNABLE:
        return None
    return value


def is_download(path):
    """A PDF: after login the browser would save it and stay on the login page."""
    return path.endswith(".pdf") or path.endswith("/reporte")


def page_to_return_to(method, path, query, referer, host):
    """The page the member was on: the address of a GET; for a form sent with POST or a PDF
    asked from a page, the page that showed the form or the link (its Referer, when it is this
    portal's)."""
    if method in ("GET", "HEAD") and not is_download(path):
        target = path + ("?" + query if query else "")
    else:
        parts = urlsplit(referer or "")
        if not parts.netloc or parts.netloc != host:
            return None
        target = parts.path + ("?" + parts.query if parts.query else "")
    target = safe_next(target)
    return None if target == "/" else target  # "/" is where a login lands anyway


def login_location(next_path=None, reason=None, had_session=False):
    """/login with the notice to show and the page to return to."""
    params = {}
    if reason in REASON_NOTICES:
        params["aviso"] = REASON_NOTICES[reason]
    elif had_session:
        params["aviso"] = "expirada"
    if next_path:
        params["next"] = next_path
    return "/login" + ("?" + urlencode(params) if params else "")
