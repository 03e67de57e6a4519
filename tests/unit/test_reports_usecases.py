"""reports' use case without its worker processes: a pool that fails."""

import pytest

from services.common.errors import ServiceUnavailable
from services.reports import usecases
from services.reports.pool import WorkerFailure


class DeadPool:
    size = 1

    def render(self, html):
        raise WorkerFailure("el proceso de reportes terminó inesperadamente")

    def render_many(self, documents):
        raise WorkerFailure("el proceso de reportes terminó inesperadamente")


class Cache:
    def __init__(self):
        self.written = []

    def key(self, document, data):
        return document

    def get(self, key):
        return None

    def put(self, key, pdf):
        self.written.append(key)


def test_a_worker_that_dies_is_a_spanish_503_and_nothing_is_cached():
    cache = Cache()
    with pytest.raises(ServiceUnavailable) as failed:
        usecases.render(DeadPool(), cache, "statement", {"movements": []}, cacheable=True)
    assert str(failed.value) == "No se pudo generar el reporte. Intente nuevamente."
    assert cache.written == []
