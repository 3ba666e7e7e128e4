"""Electronic certificates (第19条, issue 12 §2): latency of issuing one certificate with its PDF, and of
verifying one, each against the raw signing primitive measured in the same run.

    .venv/bin/python bench/bench_certificates.py            # 20 rounds on a temporary SQLite database
    .venv/bin/python bench/bench_certificates.py 50

Targets: issue + PDF ≤ 1.5 s (p95), verify ≤ 50 ms (p95). The "raw primitive" is what a certificate cannot do
without: one Ed25519 signature plus one SM2 signature over 64 bytes (issuing), one Ed25519 plus one SM2
verification (verifying); the ratio shows what JCS, the database, the status list and WeasyPrint add.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import pct, timed  # noqa: E402

ISSUE_TARGET_MS = 1500.0
VERIFY_TARGET_MS = 50.0


def _setup(students: int) -> tuple[Any, list[Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="xj-bench-certs-"))
    os.environ["XUEJI_SQLITE_PATH"] = str(tmp / "bench.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ["XUEJI_CERT_KEY_DIR"] = str(tmp / "keys")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.XUEJI_CERT_KEY_DIR = tmp / "keys"
    call_command("migrate", verbosity=0)
    from tests.factories import changes as c
    from tests.factories import core as f
    from xueji.certificates import services
    from xueji.changes.services import change_submit
    from xueji.policies import rules

    rules.GRADE_AGE_DEFAULT = f.LENIENT_GRADE_AGE  # the factories' pupil is older than the national bands
    f.departments(("440000",))
    c.calendar()
    school = f.school("440105", "primary")
    registrar = f.registrar(school)
    county = c.dept_registrar("440105")
    services.key_create(province_code="440000")
    graduated = []
    for _ in range(students):
        e = c.enrolled(school, grade=6)
        change_submit(actor=registrar, kind="graduation", enrollment=e, facts={}, today=date(2026, 6, 15))
        graduated.append(e)
    return county, graduated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", type=int, nargs="?", default=20)
    args = parser.parse_args()
    county, graduated = _setup(args.rounds + 1)

    import gmssl_pyx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from xueji.certificates import presenters, proofs, services, verifier

    ed = Ed25519PrivateKey.generate()
    sm2 = proofs.Sm2KeyPair.generate()
    data = os.urandom(64)
    ed_sig = ed.sign(data)
    sm2_sig = gmssl_pyx.sm2_sign(sm2.private, sm2.public, data, proofs.SM2_SIGNER_ID)

    def raw_sign() -> None:
        ed.sign(data)
        gmssl_pyx.sm2_sign(sm2.private, sm2.public, data, proofs.SM2_SIGNER_ID)

    def raw_verify() -> None:
        ed.public_key().verify(ed_sig, data)
        gmssl_pyx.sm2_verify(sm2.public, data, sm2_sig, proofs.SM2_SIGNER_ID)

    pending = iter(graduated)
    issued: list[Any] = []

    def issue_with_pdf() -> None:
        e = next(pending)
        cert = services.certificate_issue(actor=county, person_id=e.person_id, kind="graduation")
        presenters.certificate_pdf(cert)
        issued.append(cert)

    issue_with_pdf()  # warm-up: fonts, templates, WeasyPrint's caches
    raw_sign_ms = timed(raw_sign, 200)
    issue_ms = timed(issue_with_pdf, args.rounds)
    cert = issued[-1]
    keys = verifier.KeySet(services.key_set())
    raw_verify_ms = timed(raw_verify, 200)
    online_ms = timed(lambda: services.verify_online(cert.credential), 200)
    offline_ms = timed(lambda: verifier.verify(cert.credential, keys), 200)
    assert services.verify_online(cert.credential).result == "valid"

    def row(label: str, values: list[float], base: list[float]) -> None:
        ratio = pct(values, 0.5) / pct(base, 0.5)
        print(
            f"{label:<28} p50 {pct(values, 0.5):8.2f} ms  p95 {pct(values, 0.95):8.2f} ms  ×{ratio:,.0f} raw"
        )

    print(f"raw sign  (Ed25519 + SM2)    p50 {pct(raw_sign_ms, 0.5):8.3f} ms")
    print(f"raw verify (Ed25519 + SM2)   p50 {pct(raw_verify_ms, 0.5):8.3f} ms")
    row("issue one + PDF", issue_ms, raw_sign_ms)
    row("verify online (database)", online_ms, raw_verify_ms)
    row("verify offline (key set)", offline_ms, raw_verify_ms)
    ok_issue = pct(issue_ms, 0.95) <= ISSUE_TARGET_MS
    ok_verify = max(pct(online_ms, 0.95), pct(offline_ms, 0.95)) <= VERIFY_TARGET_MS
    print(f"target issue+PDF ≤ {ISSUE_TARGET_MS:.0f} ms: {'PASS' if ok_issue else 'FAIL'}")
    print(f"target verify ≤ {VERIFY_TARGET_MS:.0f} ms: {'PASS' if ok_verify else 'FAIL'}")
    return 0 if ok_issue and ok_verify else 1


if __name__ == "__main__":
    sys.exit(main())
