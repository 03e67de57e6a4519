"""OpenAPI 3 document of the JSON API, generated from the marshmallow schemas.

Each API handler is decorated with `@documented(...)`, naming its request and response schemas;
`build_spec()` walks those records with apispec's marshmallow plugin.
"""

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

_OPERATIONS: list[dict[str, Any]] = []

ERROR_CODES = {
    "400": "Solicitud mal formada",
    "401": "No autenticado",
    "403": "Debe cambiar la contraseña",
    "404": "No encontrado",
    "409": "Conflicto",
    "410": "Desafío vencido o ya usado",
    "413": "Cuerpo demasiado grande",
    "422": "Datos inválidos",
    "423": "Usuario bloqueado",
    "429": "Demasiados intentos",
    "503": "Servicio no disponible",
}


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.String())
    )
    retry_after = fields.Integer()
    attempts_left = fields.Integer(
        metadata={"description": "422 invalid_code: intentos que le quedan a este desafío"}
    )
    service = fields.String()
    reason = fields.String(
        metadata={"description": "401 de una sesión vencida: idle_timeout o absolute_timeout"}
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def documented(
    path,
    method,
    summary,
    *,
    request=None,
    request_example=None,
    response=None,
    status=200,
    errors=(),
    auth=True,
    password_change=False,
    tags=(),
    params=(),
    content_type="application/json",
    extra_responses=None,
):
    """Record an API operation for the OpenAPI document (the handler is returned unchanged).

    An operation with `auth` may always answer 401 and 503 (the auth service did not reply), and
    403 unless `password_change` says it works in a session opened with a temporary code.
    `request_example` is a valid body (clients copy it; schemathesis starts from it).
    `extra_responses` {status: schema}: another success with its own body (PUT /me/limits).
    """

    def decorate(fn):
        _OPERATIONS.append(
            dict(
                path=path,
                method=method.lower(),
                summary=summary,
                request=request,
                request_example=request_example,
                response=response,
                status=status,
                errors=errors,
                auth=auth,
                password_change=password_change,
                tags=tags,
                params=params,
                content_type=content_type,
                extra_responses=dict(extra_responses or {}),
                doc=(fn.__doc__ or "").strip(),
            )
        )
        return fn

    return decorate


def wire_format(self, field, ret, **kwargs):
    """What a custom field looks like on the wire.

    A field class says it with an `openapi_property` dict (Money: a string with two decimals);
    a Decimal sent `as_string` is a string. Without this they would be documented as "any".
    """
    declared = getattr(field, "openapi_property", None)
    if declared:
        return dict(declared)
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    if isinstance(field, fields.DateTime | fields.Date) and ret.get("format", "") is None:
        # a strftime format (e.g. instants "%Y-%m-%dT%H:%M:%SZ"): apispec leaves format and
        # pattern null, which is no valid OpenAPI
        ret.pop("pattern", None)
        ret.pop("format", None)
        if str(field.format).startswith("%Y-%m-%dT%H:%M:%S"):
            return {"format": "date-time"}
        if field.format == "%Y-%m-%d":
            return {"format": "date"}
    return {}


def build_spec():
    marshmallow_plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Portal en línea — API",
        version="1.0.0",
        openapi_version="3.0.3",
        info={"description": "API JSON del portal en línea de la cooperativa (docs/api.md)."},
        plugins=[marshmallow_plugin],
    )
    assert marshmallow_plugin.converter is not None  # set by APISpec(plugins=…)
    marshmallow_plugin.converter.add_attribute_function(wire_format)
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    paths: dict[str, dict[str, Any]] = {}
    for op in _OPERATIONS:
        operation: dict[str, Any] = {
            "summary": op["summary"],
            "tags": list(op["tags"]),
            "responses": {},
        }
        if op["doc"]:
            operation["description"] = op["doc"]
        if op["auth"]:
            operation["security"] = [{"bearer": []}]
        if op["params"]:
            operation["parameters"] = list(op["params"])
        if op["request"] is not None:
            media: dict[str, Any] = {"schema": op["request"]}
            if op["request_example"] is not None:
                media["example"] = op["request_example"]
            operation["requestBody"] = {"required": True, "content": {"application/json": media}}
        ok: dict[str, Any] = {"description": "Correcto"}
        if op["response"] is not None:
            ok["content"] = {op["content_type"]: {"schema": op["response"]}}
        elif op["content_type"] in ("application/pdf", "text/csv"):
            binary = {"schema": {"type": "string", "format": "binary"}}
            ok["content"] = {op["content_type"]: binary}
        operation["responses"][str(op["status"])] = ok
        for status, schema in op["extra_responses"].items():
            operation["responses"][str(status)] = {
                "description": "Correcto",
                "content": {"application/json": {"schema": schema}},
            }
        codes = set(op["errors"])
        if op["auth"]:
            codes |= {"401", "503"} if op["password_change"] else {"401", "403", "503"}
        if op["request"] is not None:
            codes |= {"400", "413", "422"}
        for code in sorted(codes):
            operation["responses"][code] = {
                "description": ERROR_CODES.get(code, "Error"),
                "content": {"application/json": {"schema": "Error"}},
            }
        paths.setdefault(op["path"], {})[op["method"]] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
