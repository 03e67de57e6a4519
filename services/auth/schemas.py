"""What the auth service reads from others: the data of the events it consumes, as it accepts
them (its own contract is services/auth/contracts.py)."""

from marshmallow import EXCLUDE, fields, validate

from services.common.schemas import PortalSchema

# Consumed: accounts.member_updated (the member record changed in the cooperative's core) ------


class MemberUpdatedSchema(PortalSchema):
    class Meta:
        unknown = EXCLUDE

    member_number = fields.String(required=True, validate=validate.Length(min=1, max=12))
    email = fields.String(load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True)
    given_names = fields.String(load_default=None, allow_none=True)
    surnames = fields.String(load_default=None, allow_none=True)
