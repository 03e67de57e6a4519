"""Structured JSON logs: one object per line, with the correlation id when there is one."""

import json
import logging
from datetime import UTC, datetime

from services.common import correlation


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = correlation.current()
        if cid:
            entry["correlation_id"] = cid
        for key in ("service", "event_type", "event_id", "method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ExpectedErrors(logging.Filter):
    """nameko logs every error an entrypoint declares expected (the portal's own: a validation
    error, a thing not found, a conflict…) as a WARNING with its traceback. Those are answers,
    not failures: logged at INFO, and a failure the portal chose (a service not answering,
    errors.FAILURE_CODES) at WARNING, both without traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.msg.startswith("(expected)") or not record.exc_info:
            return True
        from services.common.errors import FAILURE_CODES, PortalError

        exc = record.exc_info[1]
        if isinstance(exc, PortalError) and exc.code not in FAILURE_CODES:
            if not logging.getLogger().isEnabledFor(logging.INFO):
                return False
            record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = None
        return True
