"""marshmallow fields shared by every service's schemas."""

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from marshmallow import fields

from services.common.money import MoneyError, MoneyFormatError, fmt, parse_wire_amount


class Money(fields.Field[Decimal]):
    """Decimal in Python, string with two decimals on the wire (docs/domain.md, "Money and
    rounding"): `"1234.50"` or a JSON number with at most two decimals; `"1e3"`, `" 10"`,
    `"+10"`, `"1_000"`, `"1000.5"` or non-ASCII digits are refused, never read."""

    # how the OpenAPI document describes it (gateway/openapi.py)
    openapi_property = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "example": "1234.50"}

    default_error_messages = {
        "invalid": "Debe ser un valor numérico.",
        "format": "Escriba el monto con dos decimales, por ejemplo 1234.50.",
        "decimals": "Use como máximo dos decimales.",
    }

    def _serialize(
        self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | None:
        return None if value is None else fmt(value)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, bool) or value is None:
            raise self.make_error("invalid")
        try:
            return parse_wire_amount(value)
        except MoneyFormatError as exc:
            raise self.make_error("format") from exc
        except MoneyError as exc:
            if "decimals" in str(exc):
                raise self.make_error("decimals") from exc
            raise self.make_error("invalid") from exc


class CoreMoney(Money):
    """An amount in a core event or bulk-load row: only the string form (`"10.00"`). A JSON
    number is refused, even a round one: a float in the core's connector is how cents get lost."""

    default_error_messages = {
        **Money.default_error_messages,
        "not_text": 'Escriba el monto como texto con dos decimales ("10.00"), no como número.',
    }

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            raise self.make_error("not_text")
        return super()._deserialize(value, attr, data, **kwargs)


class CoreRate(fields.Field[Decimal]):
    """An annual rate in a core event or bulk-load row: a string in percent with two decimals
    (`"16.77"`), between 0 and 100; a JSON number or another form is refused, never rounded."""

    default_error_messages = {
        "invalid": 'Escriba la tasa como texto en porcentaje con dos decimales ("16.77").',
        "range": "Debe ser un porcentaje entre 0 y 100.",
    }

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value):.2f}"

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if not isinstance(value, str) or not _RATE.fullmatch(value):
            raise self.make_error("invalid")
        rate = Decimal(value)
        if rate > 100:
            raise self.make_error("range")
        return rate


_RATE = re.compile(r"[0-9]{1,3}\.[0-9]{2}")


class Count(fields.Integer):
    """A count (months, days, a page): a JSON integer only. `12.9`, `12.0`, `"12"` or `true` are
    refused, never truncated; pages and query strings convert their digits first (`counts`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


def counts(data: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A form's or query string's counts as integers when they are plain ASCII digits (anything
    else is left as typed, for the Count field to refuse)."""
    out = dict(data)
    for name in names:
        value = out.get(name)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 30:
            out[name] = int(value)
    return out


class Rate(fields.Decimal):
    """A percentage as a string, e.g. '16.77'."""

    def __init__(self, places: int = 2, **kwargs: Any) -> None:
        super().__init__(places=places, as_string=True, **kwargs)


class IsoDate(fields.Date):
    default_error_messages = {"invalid": "Fecha inválida: use el formato AAAA-MM-DD."}


# marshmallow speaks English by default; every message a member can read is Spanish.
_SPANISH: dict[type[fields.Field[Any]], dict[str, str]] = {
    fields.Field: {
        "required": "Este campo es obligatorio.",
        "null": "Este campo no puede estar vacío.",
        "validator_failed": "Valor inválido.",
    },
    fields.String: {"invalid": "Debe ser un texto."},
    fields.Integer: {
        "invalid": "Debe ser un número entero.",
        "too_large": "Número demasiado grande.",
    },
    fields.Number: {"invalid": "Debe ser un número.", "too_large": "Número demasiado grande."},
    fields.Decimal: {"special": "Debe ser un número."},
    fields.Boolean: {"invalid": "Debe ser verdadero o falso."},
    fields.Email: {"invalid": "Correo electrónico inválido."},
    fields.Date: {"invalid": "Fecha inválida: use el formato AAAA-MM-DD."},
    fields.DateTime: {"invalid": "Fecha y hora inválidas."},
    fields.List: {"invalid": "Debe ser una lista."},
    fields.Nested: {"type": "Datos inválidos."},
    fields.Dict: {"invalid": "Debe ser un objeto."},
}
for _cls, _messages in _SPANISH.items():
    _cls.default_error_messages = {**_cls.default_error_messages, **_messages}
