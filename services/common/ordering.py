"""The ordering rule of the core's sequenced streams (an account's, a loan's movements: 1, 2, 3…)
and the refusals of an inbound event (their kinds and exceptions): pure, so a domain module and
the inbox (services/common/events.py) use them without the consumer's transport
(services/common/inbound/ applies them)."""

from typing import Final, Literal

Decision = Literal["apply", "hold", "past"]
APPLY: Final = "apply"
HOLD: Final = "hold"
PAST: Final = "past"

# refusal kinds (the label of the /metrics counter); the reason is the human sentence
KIND_NOT_JSON = "no_json"
KIND_ENVELOPE = "sobre_invalido"
KIND_INVALID = "dato_invalido"
KIND_CONFLICT = "conflicto"
KIND_REUSED = "id_reutilizado"  # an event_id seen before with other content
KIND_UNKNOWN = "desconocido"
KIND_ERROR = "error_interno"
# published by someone other than the core's broker user (docs/integration.md, "Who is the core")
KIND_SENDER = "remitente_no_core"
# on a copy of a core event the portal moved (a retry, an operator's requeue): the core's user,
# which it came from; believed only when the broker vouches (user_id) that the consuming service
# itself made the copy (services/common/inbound/envelope.py, `sender_is_core`)
RELAY_HEADER = "x-portal-core-sender"


def order_decision(last: int, sequence: int) -> Decision:
    """What to do with event `sequence` of a stream whose last applied one is `last`:
    APPLY (the next one), HOLD (its predecessor is missing) or PAST (already seen)."""
    if sequence == last + 1:
        return APPLY
    if sequence > last + 1:
        return HOLD
    return PAST


class Refused(Exception):
    """The event is wrong: nothing of it is applied, it is parked at once with `reason`."""

    kind = KIND_INVALID

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if kind:
            self.kind = kind


class NotYet(Refused):
    """What the event needs may still be in flight: retried a few times, then parked."""

    kind = KIND_UNKNOWN
