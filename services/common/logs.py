"""Structured JSON logs: one object per line, with the correlation id when there is one."""

import json
import logging
from datetime import UTC, datetime

from services.common import correlation


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
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
