"""reports: turns the data it is given into PDFs. Owns nothing durable (a cache of closed periods).

The use case lives in `usecases.py`; this module only wires nameko to it. WeasyPrint runs in
worker processes (pool.py), never on this service's eventlet loop.
"""

from services.common.correlation import CorrelationContext
from services.common.entrypoints import rpc
from services.reports import renderer, usecases
from services.reports.pool import RenderPoolProvider


class ReportsService:
    name = "reports"

    correlation = CorrelationContext()
    pool = RenderPoolProvider()

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def render(self, document, data, filename=None, cacheable=False):
        # the cache is built per call: the var/ directory can change between tests
        # (PORTAL_VAR_DIR)
        return usecases.render(self.pool, renderer.PdfCache(), document, data, filename, cacheable)
