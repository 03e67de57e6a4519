"""The ordering rule of the core's sequenced streams (an account's, a loan's movements: 1, 2, 3…)
and the kinds of refusal of an inbound event: pure, so a domain module can use them without the
consumer's transport (services/common/inbound.py applies them)."""

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


def order_decision(last: int, sequence: int) -> Decision:
    """What to do with event `sequence` of a stream whose last applied one is `last`:
    APPLY (the next one), HOLD (its predecessor is missing) or PAST (already seen)."""
    if sequence == last + 1:
        return APPLY
    if sequence > last + 1:
        return HOLD
    return PAST
