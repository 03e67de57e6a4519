"""jinja2 → HTML → PDF (WeasyPrint in worker processes), with the statement's fast layout.

Any template under templates/ renders as one HTML document in one worker process (see
pool.py): page numbers come from CSS counters ("Página X de Y" in base_report.html).

A statement is cut into pages here (domain.paginate: one monospaced line per movement, fixed
line height, so the capacity of a page is known) and each page prints its own literal
"Página X de Y"; long statements are rendered as a few chunks of pages on every worker at once
and the chunks are joined with pypdf. Renders of closed periods can be cached on disk.
"""

import hashlib
import io
import json
import logging
import math
import os

from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

from services.common.clock import CLOCK
from services.common.config import env_int, var_dir
from services.common.files import private_dir, write_private
from services.reports import domain
from services.reports.contracts import STATEMENT
from services.reports.paths import TEMPLATES

log = logging.getLogger("reports.renderer")

COOPERATIVE_NAME = os.environ.get("COOPERATIVE_NAME") or "Cooperativa de Ahorro y Crédito Andina"

environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    money=domain.money, number=domain.number, fecha=domain.fecha, words=domain.amount_words
)
environment.globals.update(
    schedule_columns=domain.schedule_columns, schedule_line=domain.schedule_line
)


class UnknownDocument(LookupError):
    pass


def issued_now():
    """When a report was printed, as the member reads it: Ecuador time (never the machine's)."""
    return CLOCK.local_now().strftime("%d/%m/%Y %H:%M")


def _template(document):
    if not document or not all(c.isalnum() or c in "_-" for c in document):
        raise UnknownDocument(document)
    try:
        return environment.get_template(f"{document}.html")
    except TemplateNotFound:
        raise UnknownDocument(document) from None


def render_html(document, data, issued_at=None):
    template = _template(document)
    issued = issued_at or issued_now()
    return template.render({**data, "cooperative_name": COOPERATIVE_NAME, "issued_at": issued})


# --- statement geometry (the CSS of statement.html is written from these same numbers) ---------

PAGE_HEIGHT_PT = 841.89  # A4
MARGIN_PT = 34.0  # 12 mm top and bottom
LINE_PT = 10.0
FIRST_HEAD_PT = 136.0
OTHER_HEAD_PT = 36.0
COLUMNS_PT = 14.0
CLOSING_PT = 80.0
SAFETY_LINES = 2
MIN_CHUNK_PAGES = 4

GEOMETRY = {
    "margin_pt": MARGIN_PT,
    "line_pt": LINE_PT,
    "first_head_pt": FIRST_HEAD_PT,
    "other_head_pt": OTHER_HEAD_PT,
    "columns_pt": COLUMNS_PT,
    "closing_pt": CLOSING_PT,
}


def statement_capacities(safety=SAFETY_LINES):
    body = PAGE_HEIGHT_PT - 2 * MARGIN_PT
    first = math.floor((body - FIRST_HEAD_PT - COLUMNS_PT) / LINE_PT) - safety
    other = math.floor((body - OTHER_HEAD_PT - COLUMNS_PT) / LINE_PT) - safety
    closing = math.ceil(CLOSING_PT / LINE_PT)
    return first, other, closing


def statement_pages(data, safety=SAFETY_LINES):
    """The statement cut into printed pages: [{number, lines}], never splitting a movement."""
    first, other, closing = statement_capacities(safety)
    blocks = [domain.movement_lines(m) for m in data.get("movements") or []]
    pages = domain.paginate(blocks, first, other, closing)
    return [
        {"number": index + 1, "lines": [line for block in page for line in block]}
        for index, page in enumerate(pages)
    ]


def statement_documents(data, issued_at, parts, safety=SAFETY_LINES):
    """HTML documents (one per chunk of pages) and the page count each must come out with."""
    template = _template(STATEMENT)
    pages = statement_pages(data, safety)
    reserved = ("movements", "pages", "total_pages", "columns", "geometry", "issued_at")
    context = {k: v for k, v in data.items() if k not in reserved and k != "cooperative_name"}
    documents = []
    for start, stop in domain.balanced_chunks(len(pages), parts, MIN_CHUNK_PAGES):
        html = template.render(
            cooperative_name=COOPERATIVE_NAME,
            issued_at=issued_at,
            pages=pages[start:stop],
            total_pages=len(pages),
            columns=domain.column_titles(),
            geometry=GEOMETRY,
            **context,
        )
        documents.append((html, stop - start))
    return documents


def merge(pdfs):
    from pypdf import PdfWriter

    if len(pdfs) == 1:
        return pdfs[0]
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- cache of closed periods ---------------------------------------------------------------


def _templates_version():
    digest = hashlib.sha256()
    for path in sorted(TEMPLATES.glob("*.html")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


class PdfCache:
    """PDFs by content hash under var/cache/reports; only for data that can no longer change."""

    def __init__(self, directory=None, max_files=None):
        self.directory = directory or var_dir() / "cache" / "reports"
        self.max_files = max_files or env_int("REPORTS_CACHE_MAX_FILES", 200)
        self.version = _templates_version()

    def key(self, document, data):
        blob = json.dumps([self.version, document, data], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key):
        path = self.directory / f"{key}.pdf"
        try:
            return path.read_bytes()
        except OSError:
            return None

    def put(self, key, pdf):
        try:
            private_dir(self.directory)  # members' statements: 0700 / 0600
            write_private(self.directory / f"{key}.pdf", pdf)
            files = sorted(self.directory.glob("*.pdf"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - self.max_files)]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("report cache not written: %s", exc)


class Renderer:
    """PDF bytes of a document, drawn by the pool's worker processes."""

    def __init__(self, pool, cache=None):
        self.pool = pool
        self.cache = cache

    def render(self, document, data, cacheable=False):
        key = None
        if cacheable and self.cache is not None:
            key = self.cache.key(document, data)
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        if document == STATEMENT:
            pdf = self._statement(data)
        else:
            pdf, _ = self.pool.render(render_html(document, data))
        if key is not None:
            self.cache.put(key, pdf)
        return pdf

    def _statement(self, data):
        issued = issued_now()
        for safety in (SAFETY_LINES, SAFETY_LINES + 12):
            documents = statement_documents(data, issued, self.pool.size, safety)
            results = self.pool.render_many([html for html, _ in documents])
            if all(
                pages == expected
                for (_, pages), (_, expected) in zip(results, documents, strict=True)
            ):
                return merge([pdf for pdf, _ in results])
            log.error("statement pages overflowed their computed capacity; re-paginating")
        raise RuntimeError("statement pagination does not fit the page")
