"""reports' one use case: a document drawn as a PDF from the data it is given.

The application layer between the nameko entrypoint (`service.py`) and the drawing
(`renderer.py`: templates, pagination, the cache of closed periods; `pool.py`: the WeasyPrint
worker processes). reports consumes no event, so it declares no handler table, and owns nothing
durable (no unit of work, no outbox).
"""

import base64
from typing import Any

from services.common.errors import NotFound, ServiceUnavailable
from services.reports import renderer
from services.reports.contracts import RenderedSchema
from services.reports.pool import RenderError

RENDERED = RenderedSchema()
NOT_RENDERED = "No se pudo generar el reporte. Intente nuevamente."


def render(
    pool: Any,
    cache: renderer.PdfCache | None,
    document: str,
    data: Any,
    filename: str | None = None,
    cacheable: bool = False,
) -> dict[str, Any]:
    """{filename, content_type, pdf_base64} of `document` (a template name) with `data`.

    `cacheable=True` says the data can no longer change (a closed period): the PDF may then
    come from, and go to, the cache.
    """
    try:
        pdf = renderer.Renderer(pool, cache).render(document, data, cacheable)
    except renderer.UnknownDocument:
        raise NotFound(f"Reporte desconocido: {document}") from None
    except RenderError:
        raise ServiceUnavailable(NOT_RENDERED) from None
    answer: dict[str, Any] = RENDERED.dump(
        {
            "filename": filename or f"{document}.pdf",
            "content_type": "application/pdf",
            "pdf_base64": base64.b64encode(pdf).decode("ascii"),
        }
    )
    return answer
