"""The Idempotency-Key of creations (docs/payments.md): every creation of an order (a transfer, a
beneficiary, a loan payment…) goes through `once_per_key`."""

import json
from collections.abc import Callable, Mapping
from typing import Any

from services.common.db import commit
from services.common.errors import Conflict, ValidationError
from services.payments import domain, store
from services.payments.usecases.base import UseCasesBase, known

KEY_REUSED = (
    "Esta clave Idempotency-Key ya se usó con otros datos: use una clave nueva para otra orden."
)
KEY_IN_PROGRESS = (
    "Una orden con esta clave Idempotency-Key se está registrando: consulte sus órdenes en un "
    "momento."
)
# what a creation's fingerprint leaves out: who and from where, not what is ordered
NOT_IN_FINGERPRINT = ("member_number", "client_ip", "session_id", "device_id", "user_agent")


class IdempotentCreations(UseCasesBase):
    """The creations' Idempotency-Key, for the capabilities that create (beneficiaries, orders)."""

    def once_per_key(
        self,
        member_number: Any,  # as the caller sent it (its schema checks it in `create`)
        key: object,
        operation: str,
        body: Mapping[str, Any],
        create: Callable[[], dict[str, Any]],
        subject_field: str,
    ) -> dict[str, Any]:
        """`create()` at most once per member and `Idempotency-Key` (docs/payments.md): the same
        key and body answer the first answer and create nothing; another body is a conflict
        (409). Any creation of an order (a transfer, a beneficiary, a loan payment…) goes
        through here with its own `operation`. Without a key, `create()` as is.

        The key is reserved and committed before `create()` (which asks auth for the challenge,
        an e-mail), so a second call arriving meanwhile waits for no lock and answers 409; a
        creation refused frees its key."""
        if key is None:
            return create()
        if not isinstance(key, str) or domain.idempotency_key_errors(key):
            raise ValidationError(
                fields={"Idempotency-Key": domain.idempotency_key_errors(str(key or ""))}
            )
        fields = {k: v for k, v in body.items() if k not in NOT_IN_FINGERPRINT}
        fingerprint = domain.request_fingerprint(operation, fields)
        now = self.clock.utcnow()
        for _ in range(2):
            row = store.idempotency_key(self.db, member_number, key)
            decision = domain.key_decision(
                row.fingerprint if row else None,
                row is not None and row.answer is not None,
                row.created_at if row else None,
                row.expires_at if row else None,
                fingerprint,
                now,
            )
            if decision == domain.REPLAY:
                return json.loads(known(known(row).answer))  # a replay: answered
            if decision == domain.REUSED:
                raise Conflict(KEY_REUSED)
            if decision == domain.IN_PROGRESS:
                raise Conflict(KEY_IN_PROGRESS)
            if row is not None:  # expired, or a first call that never answered
                self.db.delete(row)
                self.db.flush()
            expires = domain.key_expires_at(now, self.settings.idempotency_hours)
            if store.reserve_idempotency_key(
                self.db, member_number, key, operation, fingerprint, now, expires
            ):
                break
            self.db.expire_all()  # another call took it meanwhile: read what it holds
        else:
            raise Conflict(KEY_IN_PROGRESS)
        commit(self.db)
        try:
            answer = create()
        except Exception:
            self.db.rollback()
            row = store.idempotency_key(self.db, member_number, key)
            if row is not None and row.answer is None:
                self.db.delete(row)
                commit(self.db)
            raise
        row = store.idempotency_key(self.db, member_number, key)
        row = known(row)  # reserved above, committed
        row.answer = json.dumps(answer, ensure_ascii=False)
        row.subject_id = answer.get(subject_field)
        return answer
