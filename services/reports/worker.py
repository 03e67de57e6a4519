"""A WeasyPrint worker process: reads HTML documents on stdin, answers PDF bytes on stdout.

The reports service keeps a few of these (services/reports/pool.py) so the CPU-bound layout
never runs on the service's eventlet loop (a `ping` keeps answering while a big statement
renders) and several documents, or several chunks of one, render on several cores at once.

Frames: request = 4-byte big-endian length + UTF-8 HTML; answer = 1 status byte (0 ok, 1 error)
+ 4-byte page count + 4-byte length + payload (the PDF, or the error text).
"""

import logging
import logging.config
import os
import struct
import sys

from services.common.config import env_int, logging_config
from services.common.known_warnings import acknowledge
from services.reports.paths import TEMPLATES

WARMUP_HTML = (
    "<html><body><p style='font-family: DejaVu Sans'>Listo <tt>0,00</tt></p></body></html>"
)


def _configure_logging():
    """The same JSON logs, levels and acknowledged warnings as every other process of the
    portal (services/common/config.py), on stderr, which is the reports service's."""
    acknowledge()
    logging.config.dictConfig(logging_config())


def _read_exact(stream, size):
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def render(html):
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(TEMPLATES)).render()
    return document.write_pdf(), len(document.pages)


def serve(stdin, stdout):
    while True:
        header = _read_exact(stdin, 4)
        if header is None:
            return
        (size,) = struct.unpack(">I", header)
        html = _read_exact(stdin, size)
        if html is None:
            return
        try:
            pdf, pages = render(html.decode("utf-8"))
            answer = b"\x00" + struct.pack(">II", pages, len(pdf)) + pdf
        except Exception as exc:  # noqa: BLE001  reported to the service, the worker lives on
            text = f"{type(exc).__name__}: {exc}".encode()
            answer = b"\x01" + struct.pack(">II", 0, len(text)) + text
        stdout.write(answer)
        stdout.flush()


def _lower_priority():
    """A PDF may take a few seconds (its limit is 5 s); a page may not. Below the pages'
    processes, the kernel serves the gateway and the services first when the cores are busy."""
    nice = env_int("REPORTS_RENDER_NICE", 10)
    if nice:
        try:
            os.nice(nice)
        except OSError:  # pragma: no cover  not permitted: run at the normal priority
            logging.getLogger("reports.worker").warning("could not lower the priority")


def main():
    _configure_logging()
    _lower_priority()
    # the protocol owns the real stdout; anything a library prints goes to stderr instead
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    render(WARMUP_HTML)  # fonts and stylesheets loaded before the first real document
    serve(sys.stdin.buffer, protocol_out)


if __name__ == "__main__":
    main()
