"""Rendering the Spanish e-mails and handing them to SMTP (or, embedded, to .eml files)."""

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from nameko.extensions import DependencyProvider

from services.common import config
from services.common.files import private_dir, write_private

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_SENDER = "Portal en línea <no-responder@cooperativa.example>"
COOPERATIVE_NAME = config.env("COOPERATIVE_NAME", "Cooperativa de Ahorro y Crédito Andina")

_environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render(notice):
    """(text, html) bodies of a notice."""
    context = {"subject": notice.subject, "cooperative_name": COOPERATIVE_NAME, **notice.context}
    text = _environment.get_template(f"{notice.kind}.txt").render(context)
    html = _environment.get_template(f"{notice.kind}.html").render(context)
    return text, html


def compose(notice, sender):
    text, html = render(notice)
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = sender
    message["To"] = notice.recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="cooperativa.example")
    message["X-Portal-Kind"] = notice.kind
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class PermanentFailure(Exception):
    """The server refused the message for good (bad address...): retrying will not help."""


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int
    user: str | None
    password: str | None
    starttls: bool
    timeout: float
    sender: str

    @classmethod
    def from_config(cls, cfg):
        def get(name, default=None):
            value = cfg.get(name)
            return config.env(name, default) if value in (None, "") else value

        starttls = get("SMTP_STARTTLS", False)
        if isinstance(starttls, str):
            starttls = starttls.strip().lower() in ("1", "true", "yes", "on", "si", "sí")
        return cls(
            host=get("SMTP_HOST"),
            port=int(get("SMTP_PORT", 25)),
            user=get("SMTP_USER"),
            password=get("SMTP_PASSWORD"),
            starttls=bool(starttls),
            timeout=float(get("SMTP_TIMEOUT", 10)),
            sender=get("MAIL_FROM", DEFAULT_SENDER),
        )


class Transport:
    """Sends one message; returns where it went ('smtp://host:port' or the .eml path)."""

    def __init__(self, settings):
        self.settings = settings

    @property
    def embedded(self):
        return not self.settings.host

    def send(self, message):
        if self.embedded:
            return self._write_eml(message)
        return self._smtp(message)

    def _smtp(self, message):
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.user:
                    smtp.login(s.user, s.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"destinatario rechazado: {list(exc.recipients)}") from exc
        except smtplib.SMTPDataError as exc:
            # the server read the message and refused it for good; a 4xx is worth retrying.
            # (a refused login or sender is a configuration problem: those are retried)
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"mensaje rechazado: SMTP {exc.smtp_code}") from exc
            raise
        return f"smtp://{s.host}:{s.port}"

    def _write_eml(self, message):
        # members' e-mails (codes, balances): the portal's account only, 0700 / 0600
        directory = private_dir(config.var_dir() / "mail")
        name = f"{uuid.uuid1().hex[:12]}-{message['X-Portal-Kind']}.eml"
        path = directory / name
        write_private(path, message.as_bytes())
        log.info("mail written to %s (embedded mailer: SMTP_HOST is not set)", path)
        return str(path)


class Mailer(DependencyProvider):
    """`self.mailer.send(message)`; SMTP_HOST/SMTP_PORT/... from the container config or env."""

    def setup(self):
        self.settings = MailSettings.from_config(self.container.config)
        if not self.settings.host:
            log.info(
                "notifications: SMTP_HOST not set, e-mails are written as .eml files under %s",
                config.var_dir() / "mail",
            )

    def get_dependency(self, worker_ctx):
        return Transport(self.settings)
