"""Base schema: Spanish messages, unknown fields refused, and a helper that raises our error."""

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from marshmallow import ValidationError as MarshmallowValidationError

from services.common import fields as _fields  # noqa: F401  (installs Spanish messages)
from services.common.errors import ValidationError


class PortalSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "Campo no permitido.", "type": "Datos inválidos."}


def load_or_raise(schema: Schema, data: Mapping[str, Any], **kwargs: Any) -> Any:
    """Load with marshmallow, turning its errors into the portal's 422 ValidationError."""
    try:
        return schema.load(data, **kwargs)
    except MarshmallowValidationError as exc:
        raise ValidationError(fields=flatten(exc.messages)) from None


def flatten(messages: object) -> dict[str, list[str]]:
    """marshmallow's nested messages as {field: [msg, ...]} with dotted names for nesting."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            strings = [v for v in value if isinstance(v, str)]
            if strings:
                out.setdefault(prefix or "_schema", []).extend(strings)
            for v in value:
                if isinstance(v, dict):
                    walk(prefix, v)
        else:
            out.setdefault(prefix or "_schema", []).append(str(value))

    walk("", messages)
    return out


# the most members one batch ask of the position may name (gateway/coalesce.py)
MEMBER_BATCH_MAX = 64


class MemberBatchSchema(PortalSchema):
    member_numbers = fields.List(
        fields.String(validate=validate.Length(min=1, max=20)),
        required=True,
        validate=validate.Length(min=1, max=MEMBER_BATCH_MAX),
    )


_MEMBER_BATCH = MemberBatchSchema()  # built once: it is asked on every position


def member_batch(member_numbers: object) -> list[str]:
    """The member numbers of a batch ask (the gateway's coalesced position), each once, in
    order; anything else is the portal's 422."""
    numbers = load_or_raise(_MEMBER_BATCH, {"member_numbers": member_numbers})
    return list(dict.fromkeys(numbers["member_numbers"]))
