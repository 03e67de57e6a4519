"""Where the report templates live (shared by the service and its worker processes)."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
