"""jinja2 + weasyprint, off the eventlet loop (WeasyPrint is CPU-bound and would block it)."""

import os
from datetime import datetime
from pathlib import Path

from eventlet import tpool
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

from services.reports import domain

TEMPLATES = Path(__file__).resolve().parent / "templates"
COOPERATIVE_NAME = os.environ.get("COOPERATIVE_NAME") or "Cooperativa de Ahorro y Crédito Andina"

environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(money=domain.money, number=domain.number, fecha=domain.fecha)


class UnknownDocument(LookupError):
    pass


def render_html(document, data, issued_at=None):
    try:
        template = environment.get_template(f"{document}.html")
    except TemplateNotFound:
        raise UnknownDocument(document) from None
    issued = issued_at or datetime.now().strftime("%d/%m/%Y %H:%M")
    return template.render(cooperative_name=COOPERATIVE_NAME, issued_at=issued, **data)


def _html_to_pdf(html):
    from weasyprint import HTML

    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def render_pdf(document, data):
    """PDF bytes of `document` (a template under templates/) filled with `data`."""
    html = render_html(document, data)
    return tpool.execute(_html_to_pdf, html)
