"""SMS of the security alerts: a pluggable sender chosen by `SMS_BACKEND`.

- `file` (default, embedded): each message is a file under var/sms/ (mode 0600: it names the
  member's phone), like the .eml files of the embedded mailer.
- `twilio`: Twilio's Programmable Messaging through its maintained library (`twilio`), with
  `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` and `TWILIO_FROM` (the sender number or a Messaging
  Service SID `MG…`). A refusal for good (4xx: a number that cannot receive SMS) is not retried;
  anything else is, through the event's retry queue.
- `none`: no SMS at all.
"""

import logging
import os
import uuid
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

from services.common import config
from services.notifications.mail import PermanentFailure

log = logging.getLogger(__name__)

BACKENDS = ("file", "twilio", "none")


class SmsConfigurationError(RuntimeError):
    """SMS_BACKEND names a provider whose settings are missing: the service does not start."""


@dataclass(frozen=True)
class SmsSettings:
    backend: str
    account_sid: str | None = None
    auth_token: str | None = None
    sender: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_config(cls, cfg):
        def get(name, default=None):
            value = cfg.get(name)
            return config.env(name, default) if value in (None, "") else value

        backend = str(get("SMS_BACKEND", "file")).strip().lower()
        if backend not in BACKENDS:
            raise SmsConfigurationError(f"SMS_BACKEND must be one of {', '.join(BACKENDS)}")
        return cls(
            backend=backend,
            account_sid=get("TWILIO_ACCOUNT_SID"),
            auth_token=get("TWILIO_AUTH_TOKEN"),
            sender=get("TWILIO_FROM"),
            timeout=float(get("SMS_TIMEOUT", 10)),
        )


class FileSender:
    """Writes each SMS as a text file under var/sms/ (readable by the portal's user only)."""

    name = "file"

    def send(self, phone, text, kind):
        directory = config.var_dir() / "sms"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{uuid.uuid1().hex[:12]}-{kind}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"Para: {phone}\n\n{text}\n")
        log.info("sms written to %s (SMS_BACKEND=file)", path)
        return str(path)


class TwilioSender:
    """Sends through Twilio's REST API (the `twilio` library); builds its client without any
    network call: the first request is the first message."""

    name = "twilio"

    def __init__(self, settings):
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", settings.account_sid),
                ("TWILIO_AUTH_TOKEN", settings.auth_token),
                ("TWILIO_FROM", settings.sender),
            )
            if not value
        ]
        if missing:
            raise SmsConfigurationError(f"SMS_BACKEND=twilio needs {', '.join(missing)}")
        self.sender = settings.sender
        self.client = Client(
            settings.account_sid,
            settings.auth_token,
            http_client=TwilioHttpClient(timeout=settings.timeout),
        )

    def send(self, phone, text, kind):
        from twilio.base.exceptions import TwilioRestException

        origin = (
            {"messaging_service_sid": self.sender}
            if self.sender.startswith("MG")
            else {"from_": self.sender}
        )
        try:
            message = self.client.messages.create(to=phone, body=text, **origin)
        except TwilioRestException as exc:
            if 400 <= (exc.status or 0) < 500 and exc.status not in (401, 403, 429):
                raise PermanentFailure(f"SMS rechazado: Twilio {exc.status} {exc.code}") from exc
            raise
        return f"twilio:{message.sid}"


class NoSender:
    name = "none"

    def send(self, phone, text, kind):
        return None


def build_sender(settings):
    if settings.backend == "twilio":
        return TwilioSender(settings)
    if settings.backend == "none":
        return NoSender()
    return FileSender()


class SmsSender(DependencyProvider):
    """`self.sms.send(phone, text, kind)` → where it went; SMS_BACKEND=file|twilio|none."""

    def setup(self):
        self.settings = SmsSettings.from_config(self.container.config)
        self.sender = build_sender(self.settings)
        if self.settings.backend == "file":
            log.info("notifications: SMS are written as files under %s", config.var_dir() / "sms")

    def get_dependency(self, worker_ctx):
        return self.sender
