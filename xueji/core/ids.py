"""Primary keys that are unique without a central sequence (issue #2 §10: sharding by province).

UUIDv7 (RFC 9562): 48-bit Unix milliseconds + random bits. Time-ordered, so B-tree inserts stay local, and
any province's database can mint keys without coordination. Python 3.11 has no ``uuid.uuid7``.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
