"""What the reports service publishes for others: the documents `render` knows and the shape of
its answer. See docs/architecture.md, "Contracts".

Error codes: `render` raises the shared errors of services/common/errors.py (a code and a Spanish
message): `not_found` (a document it does not know), `service_unavailable` (the render failed).
"""

from typing import Annotated, Any, Protocol

from marshmallow import fields

from services.common.operations import JSON, ServiceOperations, operation
from services.common.schemas import PortalSchema

# documents (each one a template of services/reports/templates)
STATEMENT = "statement"
POSITION = "position"
LOAN_SCHEDULE = "loan_schedule"
CREDIT_SIMULATION = "credit_simulation"
DEPOSIT_SIMULATION = "deposit_simulation"
DOCUMENTS = (STATEMENT, POSITION, LOAN_SCHEDULE, CREDIT_SIMULATION, DEPOSIT_SIMULATION)


class RenderedSchema(PortalSchema):
    """What `render(document, data, filename)` answers."""

    filename = fields.String()
    content_type = fields.String()
    pdf_base64 = fields.String()


class ReportsRpc(ServiceOperations, Protocol):
    """The reports service's one operation: a PDF of one of `DOCUMENTS` from its data."""

    @operation
    def render(
        self,
        document: str,
        data: dict[str, Any],
        filename: str | None = None,
        cacheable: bool = False,
    ) -> Annotated[JSON, RenderedSchema]: ...
