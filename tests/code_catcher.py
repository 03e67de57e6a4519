"""A stand-in `notifications` for service tests that run auth without it (tests/helpers.py
`start_code_catcher`): each code is written to var/mail as an .eml like the embedded mailer's,
with the challenge's reference, so tests read it as they would the real e-mail."""

import uuid
from email.message import EmailMessage

from services.common.config import var_dir
from services.common.entrypoints import rpc


def _write(kind, to, text):
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = kind
    message["X-Portal-Kind"] = kind
    message.set_content(text)
    directory = var_dir() / "mail"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{uuid.uuid1().hex[:12]}-{kind}.eml").write_bytes(message.as_bytes())


class CodeCatcher:
    name = "notifications"

    @rpc
    def send_second_factor_code(
        self, email, username, code, purpose, expires_at=None, challenge_id=None, order=None
    ):
        reference = "".join(c for c in str(challenge_id or "") if c.isalnum())[:8].upper()
        _write(
            "second_factor_code",
            email,
            f"Usuario: {username}\nPropósito: {purpose}\n\n{code}\n\nReferencia: {reference}\n",
        )
        return {"sent": True}

    @rpc
    def send_recovery_code(self, email, username, code):
        _write("recovery_code", email, f"Usuario: «{username}»\n\nSu código temporal es: {code}\n")
        return {"sent": True}
