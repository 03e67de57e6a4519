"""reports: turns the data it is given into PDFs. Owns nothing durable."""

import base64

from services.common.correlation import Tracker
from services.common.entrypoints import rpc
from services.common.errors import NotFound
from services.reports import renderer


class ReportsService:
    name = "reports"

    tracker = Tracker()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def render(self, document, data, filename=None):
        """{filename, content_type, pdf_base64} of `document` (a template name) with `data`."""
        try:
            pdf = renderer.render_pdf(document, data)
        except renderer.UnknownDocument:
            raise NotFound(f"Reporte desconocido: {document}") from None
        return {
            "filename": filename or f"{document}.pdf",
            "content_type": "application/pdf",
            "pdf_base64": base64.b64encode(pdf).decode("ascii"),
        }
