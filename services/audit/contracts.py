"""What the audit service publishes for others: its RPC payloads (the trail's query, entries and
verification). See docs/architecture.md, "Contracts".

Error codes: its RPCs raise the shared errors of services/common/errors.py (a code and a Spanish
message): `validation_error`.
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Protocol

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from services.audit import domain
from services.common.operations import JSON, ServiceOperations, operation
from services.common.schemas import PortalSchema


class Instant(fields.Field):
    """'2026-11-25' (a whole day) or an ISO-8601 instant ('2026-11-25T16:47:33Z')."""

    default_error_messages = {
        "invalid": "Fecha inválida: use AAAA-MM-DD o AAAA-MM-DDTHH:MM:SSZ.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        text = value.strip()
        if len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError as exc:
                raise self.make_error("invalid") from exc
        try:
            return domain.parse_instant(text)
        except domain.InvalidEnvelope as exc:
            raise self.make_error("invalid") from exc


def _start(value):
    return datetime(value.year, value.month, value.day) if type(value) is date else value


class AuditQuerySchema(PortalSchema):
    member_number = fields.String(load_default=None, validate=validate.Length(max=12))
    source = fields.String(load_default=None, validate=validate.Length(max=40))
    event_type = fields.String(load_default=None, validate=validate.Length(max=121))
    since = Instant(load_default=None, allow_none=True)
    until = Instant(load_default=None, allow_none=True)
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000, error="Debe estar entre 1 y 1000."),
    )

    @validates_schema
    def _range(self, data, **kwargs):
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and _start(since) > _start(until):
            raise ValidationError("Debe ser anterior o igual a «until».", "since")

    @post_load
    def _normalize(self, data, **kwargs):
        # "auth.password_changed" is the same as source="auth", event_type="password_changed"
        event_type = data.get("event_type")
        if event_type and "." in event_type:
            source, _, event_type = event_type.partition(".")
            data["source"], data["event_type"] = data.get("source") or source, event_type
        if data.get("since") is not None:
            data["since"] = _start(data["since"])
        until = data.get("until")
        if until is not None:
            # inclusive: a whole day up to its end, an instant up to itself
            data["until"] = (
                _start(until) + timedelta(days=1)
                if type(until) is date
                else until + timedelta(microseconds=1)
            )
        return data


class AuditEntrySchema(PortalSchema):
    seq = fields.Integer()
    event_id = fields.String()
    source = fields.String()
    event_type = fields.String()
    occurred_at = fields.Function(lambda entry: domain.instant_text(entry["occurred_at"]))
    recorded_at = fields.Function(lambda entry: domain.instant_text(entry["recorded_at"]))
    member_number = fields.String(allow_none=True)
    data = fields.Raw()
    prev_hash = fields.String()
    hash = fields.String()


class AnchorSchema(PortalSchema):
    """An anchor: the head (seq, hash, legacy_seq) as written at `at` to `source`."""

    source = fields.String()
    seq = fields.Integer()
    hash = fields.String()
    legacy_seq = fields.Integer()
    at = fields.String()


class CheckedAnchorSchema(PortalSchema):
    """The anchor a verification was checked against: the file, its latest signed anchor
    (nulls when it has none yet), how many anchors were checked and how many lines were
    refused (unsigned or forged)."""

    source = fields.String()
    seq = fields.Integer(allow_none=True)
    hash = fields.String(allow_none=True)
    at = fields.String(allow_none=True)
    checked = fields.Integer()
    rejected = fields.Integer()


class VerificationSchema(PortalSchema):
    valid = fields.Boolean()
    entries = fields.Integer()
    first_broken_seq = fields.Integer(allow_none=True)
    anchor = fields.Nested(CheckedAnchorSchema, allow_none=True)


class AuditRpc(ServiceOperations, Protocol):
    """The audit service's RPC operations (docs/audit.md)."""

    @operation
    def verify_chain(self) -> Annotated[JSON, VerificationSchema]: ...

    @operation
    def anchor_chain(self) -> Annotated[JSON, AnchorSchema]: ...

    @operation
    def query(
        self,
        member_number: str | None = None,
        event_type: str | None = None,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | str | None = 100,
    ) -> list[Annotated[JSON, AuditEntrySchema]]: ...
