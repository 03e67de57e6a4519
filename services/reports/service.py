"""reports: turns the data it is given into PDFs. Owns nothing durable (a cache of closed periods).

WeasyPrint runs in worker processes (pool.py), never on this service's eventlet loop.
"""

import base64

from services.common.correlation import CorrelationContext
from services.common.entrypoints import rpc
from services.common.errors import NotFound, ServiceUnavailable
from services.reports import renderer
from services.reports.contracts import RenderedSchema
from services.reports.pool import RenderError, RenderPoolProvider

RENDERED = RenderedSchema()


class ReportsService:
    name = "reports"

    correlation = CorrelationContext()
    pool = RenderPoolProvider()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def render(self, document, data, filename=None, cacheable=False):
        """{filename, content_type, pdf_base64} of `document` (a template name) with `data`.

        `cacheable=True` says the data can no longer change (a closed period): the PDF may then
        come from, and go to, the cache under var/cache/reports.
        """
        try:
            pdf = renderer.Renderer(self.pool, _cache()).render(document, data, cacheable)
        except renderer.UnknownDocument:
            raise NotFound(f"Reporte desconocido: {document}") from None
        except RenderError:
            raise ServiceUnavailable("No se pudo generar el reporte. Intente nuevamente.") from None
        return RENDERED.dump(
            {
                "filename": filename or f"{document}.pdf",
                "content_type": "application/pdf",
                "pdf_base64": base64.b64encode(pdf).decode("ascii"),
            }
        )


def _cache():
    # built per call: the var/ directory can change between tests (PORTAL_VAR_DIR)
    return renderer.PdfCache()
