"""The one masking module: how identity numbers, 学籍号 and phone numbers are shown to those who may not
see them whole (lists, the audit trail, exports, snapshots; 第24条, security.md §2).

Pure functions of a string; every page, API schema, export and the audit redaction use these, so a number is
masked the same way wherever it appears.
"""

from __future__ import annotations

MASK_CHAR = "*"


def mask_id_number(number: str) -> str:
    """An identity document number: the first 3 and the last 4 characters (``110***********1234``).

    Numbers of 7 characters or fewer are masked entirely; empty stays empty.
    """
    if len(number) <= 7:
        return MASK_CHAR * len(number)
    return number[:3] + MASK_CHAR * (len(number) - 7) + number[-4:]


def mask_student_number(number: str) -> str:
    """A 学籍号: the kind letter and the 6-digit region code, and the last 4 characters
    (``G440105********1234``). Numbers of 11 characters or fewer are masked entirely."""
    if len(number) <= 11:
        return MASK_CHAR * len(number)
    return number[:7] + MASK_CHAR * (len(number) - 11) + number[-4:]


def mask_name(name: str) -> str:
    """A person's name: the first and the last character (``张*明``, ``欧**明``); two characters keep the first
    (``李*``); one stays as it is."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + MASK_CHAR
    return name[0] + MASK_CHAR * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """A phone number: the first 3 and the last 4 digits (``138****8000``); shorter ones → ``****``."""
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "****" if phone else ""
