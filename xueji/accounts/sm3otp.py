"""The national-algorithm dynamic password: GM/T 0021-2012《动态口令密码应用技术规范》 (GB/T 38556-2020), SM3
variant, time-based (issue 11 §1: an OTP device for deployments that must use 商用密码).

Construction (GM/T 0021-2012 §5 "动态口令生成方式", SM3 branch):

    T  = floor((unix time − T0) / Tc)            time factor, 8 bytes big-endian (Tc ≤ 60 s; here 60 by default)
    ID = T ‖ C ‖ Q                               C (event factor, 4 bytes) and Q (challenge, ≥ 4 bytes) are
                                                 omitted here: a time-based token uses T alone
    ID is at least 128 bits: a shorter ID is padded with zero bytes on the right (T alone → T ‖ 0x00 × 8)
    S  = SM3(K ‖ ID)                             K the seed key (≥ 128 bits; we use 256), SM3 per GB/T 32905
    OD = (S1 + S2 + … + S8) mod 2^32             Truncate: S cut into eight 32-bit big-endian words, summed
    P  = OD mod 10^N                             N = 6 digits, written with leading zeros

Source and confidence: the construction above is taken from implementation notes on GM/T 0021-2012 (the text of
the standard itself was not at hand while writing this: "国密SM3与动态密码OTP", jianshu.com/p/e1722328695e,
which states ID ≥ 128 bits "不足的时补零", the factor sizes, S = SM3(K‖ID), the word-sum truncation and P = OD mod
10^N) and agrees with an independent public soft-token implementation of the SM3 OTP (words summed mod 2^32,
mod 10^6, T as 8 bytes). That implementation does NOT pad ID to 128 bits; the padding follows the notes on the
standard. The standard's appendix test vectors were not available to check against: before relying on a
particular hardware token, compare one code from it with :func:`generate` (``manage.py shell``) and, if the
token omits the padding, set ``XUEJI_SM3_OTP_PAD_ID=0`` in the environment.
"""

from __future__ import annotations

import struct
import time

from cryptography.hazmat.primitives import hashes
from django.conf import settings

ID_MIN_BYTES = 16  # 128 bits
DEFAULT_STEP = 60
DEFAULT_DIGITS = 6


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def time_factor(now: float, step: int = DEFAULT_STEP, t0: int = 0) -> int:
    """T = floor((now − T0) / Tc)."""
    return int((now - t0) // step)


def identifier(t: int, pad: bool | None = None) -> bytes:
    """ID = T as 8 big-endian bytes, padded with zero bytes to 128 bits (unless padding is switched off)."""
    ident = struct.pack(">Q", t)
    if pad is None:
        pad = bool(getattr(settings, "XUEJI_SM3_OTP_PAD_ID", True))
    if pad and len(ident) < ID_MIN_BYTES:
        ident += b"\x00" * (ID_MIN_BYTES - len(ident))
    return ident


def truncate(s: bytes) -> int:
    """OD = sum of the eight 32-bit big-endian words of S, mod 2^32."""
    return sum(struct.unpack(">8I", s)) & 0xFFFFFFFF


def generate(key: bytes, t: int, digits: int = DEFAULT_DIGITS, pad: bool | None = None) -> str:
    """The dynamic password of time factor ``t`` for seed ``key``, as ``digits`` decimal digits."""
    if len(key) < 16:
        raise ValueError("GM/T 0021 seed keys are at least 128 bits")
    od = truncate(sm3(key + identifier(t, pad)))
    return f"{od % 10**digits:0{digits}d}"


def now() -> float:
    return time.time()
