"""Sending text messages, shaped like Django's e-mail backends (``django.core.mail.backends``).

``settings.XUEJI_SMS_BACKEND`` names the class (default the file backend):

- :class:`FileBackend` (development and tests): one ``.sms`` file per message under ``XUEJI_SMS_FILE_PATH``
  (``var/sms/``), readable by the developer or a browser test;
- :class:`ConsoleBackend` (development): the message on standard output;
- :class:`LocmemBackend` (unit tests): the messages in :data:`outbox`;
- :class:`GatewayBackend` (production): an HTTPS POST to the operator's SMS gateway (``XUEJI_SMS_GATEWAY_URL``),
  signed with HMAC-SM3 over the body with ``XUEJI_SMS_GATEWAY_SECRET`` (docs/guardians.md).

A message is sent after the transaction that caused it commits (the callers use ``transaction.on_commit``),
so a rolled-back request never sends one (security.md §5 crash consistency). Nothing here logs the text of a
message: it may carry a one-time code (security.md test 29).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

DEFAULT_BACKEND = "xueji.guardians.sms.FileBackend"


@dataclass
class SmsMessage:
    """One text message to one mainland mobile number."""

    to: str
    body: str
    sent_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))


class SmsError(Exception):
    """The gateway refused or could not be reached (the caller decides whether that fails the request)."""


class BaseSmsBackend:
    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        self.fail_silently = fail_silently

    def send_messages(self, messages: list[SmsMessage]) -> int:
        raise NotImplementedError


class ConsoleBackend(BaseSmsBackend):
    def __init__(self, *args: Any, stream: IO[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout

    def send_messages(self, messages: list[SmsMessage]) -> int:
        for m in messages:
            self.stream.write(f"[SMS] to {m.to} at {m.sent_at:%Y-%m-%d %H:%M:%S}Z\n{m.body}\n{'-' * 40}\n")
        self.stream.flush()
        return len(messages)


class FileBackend(BaseSmsBackend):
    """One UTF-8 file per message, ``<UTC time>-<random>.sms``: first line ``To: <number>``, then the text."""

    def __init__(self, *args: Any, file_path: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        configured = file_path or getattr(settings, "XUEJI_SMS_FILE_PATH", None)
        if not configured:
            configured = Path(settings.BASE_DIR) / "var" / "sms"
        self.file_path = Path(configured)

    def send_messages(self, messages: list[SmsMessage]) -> int:
        self.file_path.mkdir(parents=True, exist_ok=True)
        for m in messages:
            name = f"{m.sent_at:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.sms"
            path = self.file_path / name
            path.write_text(f"To: {m.to}\nDate: {m.sent_at.isoformat()}\n\n{m.body}\n", encoding="utf-8")
            path.chmod(0o600)
        return len(messages)


#: Messages "sent" by :class:`LocmemBackend` (unit tests read and clear it).
outbox: list[SmsMessage] = []
_outbox_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    def send_messages(self, messages: list[SmsMessage]) -> int:
        with _outbox_lock:
            outbox.extend(messages)
        return len(messages)


def gateway_signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SM3(secret, timestamp ‖ "\\n" ‖ nonce ‖ "\\n" ‖ body), hex — the ``X-Sms-Signature`` header."""
    mac = hmac.HMAC(secret.encode(), hashes.SM3())
    mac.update(timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body)
    return mac.finalize().hex()


class GatewayBackend(BaseSmsBackend):
    """POST ``{"app_id", "sign_name", "to", "text"}`` as JSON to ``XUEJI_SMS_GATEWAY_URL`` (HTTPS only), with
    ``X-Sms-App``, ``X-Sms-Timestamp``, ``X-Sms-Nonce`` and ``X-Sms-Signature`` headers; a 2xx answer is a
    sent message. Refused or unreachable → :class:`SmsError` (unless ``fail_silently``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = getattr(settings, "XUEJI_SMS_GATEWAY_URL", "")
        self.app_id = getattr(settings, "XUEJI_SMS_GATEWAY_APP_ID", "")
        self.secret = getattr(settings, "XUEJI_SMS_GATEWAY_SECRET", "")
        self.sign_name = getattr(settings, "XUEJI_SMS_SIGN_NAME", "学籍系统")
        self.timeout = float(getattr(settings, "XUEJI_SMS_GATEWAY_TIMEOUT", 5))
        if not self.url.startswith("https://") or not self.app_id or not self.secret:
            raise ImproperlyConfigured(
                "XUEJI_SMS_BACKEND=GatewayBackend needs XUEJI_SMS_GATEWAY_URL (https://…), "
                "XUEJI_SMS_GATEWAY_APP_ID and XUEJI_SMS_GATEWAY_SECRET"
            )

    def request_for(self, message: SmsMessage) -> urllib.request.Request:
        body = json.dumps(
            {"app_id": self.app_id, "sign_name": self.sign_name, "to": message.to, "text": message.body},
            ensure_ascii=False,
        ).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Sms-App": self.app_id,
            "X-Sms-Timestamp": timestamp,
            "X-Sms-Nonce": nonce,
            "X-Sms-Signature": gateway_signature(self.secret, timestamp, nonce, body),
        }
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - https only

    def send_messages(self, messages: list[SmsMessage]) -> int:
        sent = 0
        for m in messages:
            try:
                with urllib.request.urlopen(self.request_for(m), timeout=self.timeout) as answer:  # noqa: S310
                    if 200 <= answer.status < 300:
                        sent += 1
                        continue
                    raise SmsError(f"gateway answered {answer.status}")
            except (OSError, SmsError) as exc:
                if not self.fail_silently:
                    raise SmsError("短信网关发送失败") from exc
        return sent


def get_backend(backend: str | None = None, **kwargs: Any) -> BaseSmsBackend:
    """An instance of ``backend`` or of ``settings.XUEJI_SMS_BACKEND`` (like ``django.core.mail.get_connection``)."""
    path = backend or getattr(settings, "XUEJI_SMS_BACKEND", "") or DEFAULT_BACKEND
    klass = import_string(path)
    return klass(**kwargs)  # type: ignore[no-any-return]


def send_sms(to: str, body: str, *, fail_silently: bool = False) -> int:
    """Send one message through the configured backend; returns the number sent (0 or 1)."""
    return get_backend(fail_silently=fail_silently).send_messages([SmsMessage(to=to, body=body)])
