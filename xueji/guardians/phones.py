"""The one place a guardian's phone number is read, written, normalised and looked up.

The number is stored SM4-GCM encrypted (``GuardianAccount.phone``, an encrypted column, issue 11 §3) with a keyed
blind index (``phone_key``) for look-ups.
"""

from __future__ import annotations

import re
from typing import Any

from xueji.core.errors import FieldError
from xueji.core.masking import mask_phone

from .crypto import keyed_hash

MOBILE = re.compile(r"^1[3-9]\d{9}$")
PURPOSE = "guardian.phone"


def normalise(raw: str) -> str:
    """A mainland mobile number (11 digits starting 13–19); ``+86``/``86`` prefixes and separators dropped.
    Anything else → FieldError naming ``phone``."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MOBILE.match(digits):
        raise FieldError("phone", "invalid_phone", "手机号码：请填写 11 位中国大陆手机号码")
    return digits


def blind_index(phone: str) -> str:
    """The keyed hash a phone number is looked up by (never the number itself in an index or a counter)."""
    return keyed_hash(PURPOSE, phone)


def store(account: Any, phone: str) -> None:
    """Write ``phone`` to ``account`` (its number and blind index)."""
    account.phone = phone
    account.phone_key = blind_index(phone)


def reveal(account: Any) -> str:
    """The account's full number (to send it an SMS)."""
    return str(account.phone)


def masked(account: Any) -> str:
    return mask_phone(reveal(account))
