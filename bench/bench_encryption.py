"""What encryption at rest costs (issue 11 §3: import ≤ 20 % slower, record lookup ≤ 2 ms slower).

    .venv/bin/python bench/bench_encryption.py                      # 20 000 rows, SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/bench_encryption.py --rows 100000

The same CSV is imported through the full import path (``bench_import.phase_import``: dry run + commit) into
two fresh databases of the same engine, in child processes:

- **encrypted** — the product as it is: SM4-GCM on every personal column, HMAC-SM3 blind indexes;
- **plaintext** — the same code with ``fieldcrypto.encrypt_text`` replaced by the identity and the blind index
  by the unkeyed ``purpose:value`` the registries held before (what the import cost before issue 11 §3).

Then, in each database, a record lookup as the record page needs it — one person by primary key with every
personal field read (decrypted), its family members too — timed over random pupils, beside the raw engine
path (``SELECT *`` of the person and its family by key through the cursor) measured in the same process.
Prints rows/s, latencies (p50/p95) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_import  # noqa: E402

LOOKUPS = 2000
PERSON_FIELDS = (
    "student_number",
    "id_number",
    "phone",
    "current_address",
    "mailing_address",
    "home_address",
    "health",
    "disability_type",
)


def _plaintext_mode() -> None:
    """The baseline: no encryption, unkeyed registry keys (as before issue 11 §3)."""
    from xueji.core import fieldcrypto
    from xueji.students import identity, models

    fieldcrypto.encrypt_text = lambda name, aad, plaintext: plaintext  # type: ignore[assignment]

    def unkeyed(purpose: str, value: str) -> str:
        return f"{purpose.rsplit('.', 1)[-1]}:{value}"[:64] if value else ""

    fieldcrypto.blind_index = unkeyed  # type: ignore[assignment]
    identity.blind_index = unkeyed  # type: ignore[assignment]
    models.blind_index = unkeyed  # type: ignore[assignment]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def phase_lookup(_: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from xueji.students.models import Guardian, Person

    ids = list(Person.objects.values_list("pk", flat=True))
    rng = random.Random(7)
    picks = [rng.choice(ids) for _ in range(LOOKUPS)]
    p_table, g_table = Person._meta.db_table, Guardian._meta.db_table
    key = (lambda pk: pk.hex) if connection.vendor == "sqlite" else (lambda pk: pk)

    def orm(pk: Any) -> None:
        person = Person.objects.get(pk=pk)
        for name in PERSON_FIELDS:
            getattr(person, name)
        for guardian in Guardian.objects.filter(person_id=pk):
            guardian.phone, guardian.address, guardian.id_number  # noqa: B018 - read = decrypt

    def raw(pk: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {p_table} WHERE id = %s", [key(pk)])
            cursor.fetchall()
            cursor.execute(f"SELECT * FROM {g_table} WHERE person_id = %s", [key(pk)])
            cursor.fetchall()

    out: dict[str, Any] = {}
    for label, fn in (("raw", raw), ("orm", orm), ("raw2", raw), ("orm2", orm)):
        samples = []
        for pk in picks:
            t0 = time.perf_counter()
            fn(pk)
            samples.append(time.perf_counter() - t0)
        out[label] = _percentiles(samples)
    # Second rounds are the measurement (warm caches in both); the first rounds warm up.
    return {"raw": out["raw2"], "orm": out["orm2"], "people": len(ids)}


def _child(env: dict[str, str], phase: str, plaintext: bool, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, *extra]
    if plaintext:
        cmd.append("--plaintext")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


PHASES = {"setup": bench_import.phase_setup, "import": bench_import.phase_import, "lookup": phase_lookup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--plaintext", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        if args.plaintext:
            _plaintext_mode()
        args.profile = args.revalidate = False
        print(json.dumps(PHASES[args.phase](args)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="xueji-bench-enc-"))
    from xueji.imports.template import COLUMNS

    headers = [c.header for c in COLUMNS]
    csv_path = workdir / "students.csv"
    bench_import.write_csv(csv_path, headers, (bench_import.student(i, headers) for i in range(args.rows)))
    url = os.environ.get("DATABASE_URL")
    results: dict[str, dict[str, Any]] = {}
    for mode in ("plaintext", "encrypted", "plaintext2", "encrypted2"):
        env = dict(os.environ)
        env.update(XUEJI_VAR_DIR=str(workdir / mode), XUEJI_LOG_LEVEL="ERROR", XUEJI_DEBUG="0")
        env.setdefault("XUEJI_IMPORT_MAX_BYTES", str(8 << 30))
        name = f"xueji_bench_enc_{mode}"
        if url:
            bench_import._pg_admin(url, f"DROP DATABASE IF EXISTS {name}")
            bench_import._pg_admin(url, f"CREATE DATABASE {name}")
            env["DATABASE_URL"] = urlunparse(urlparse(url)._replace(path=f"/{name}"))
        else:
            env.pop("DATABASE_URL", None)
            env["XUEJI_SQLITE_PATH"] = str(workdir / f"{mode}.sqlite3")
        plain = mode.startswith("plaintext")
        try:
            _child(env, "setup", plain)
            imp = _child(env, "import", plain, "--file", str(csv_path))
            look = _child(env, "lookup", plain)
        finally:
            if url:
                bench_import._pg_admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        results[mode] = {"import": imp, "lookup": look}
        print(
            f"{mode:11s} import {imp['rows'] / imp['total']:8.0f} rows/s ({imp['total']:.1f} s, CPU {imp['cpu']:.1f} s)  "
            f"lookup p50 {look['orm'][0]:.2f} ms p95 {look['orm'][1]:.2f} ms  "
            f"(raw p50 {look['raw'][0]:.2f} ms p95 {look['raw'][1]:.2f} ms)",
            flush=True,
        )
    engine = "PostgreSQL" if url else "SQLite"
    enc = min(results["encrypted"]["import"]["total"], results["encrypted2"]["import"]["total"])
    plain = min(results["plaintext"]["import"]["total"], results["plaintext2"]["import"]["total"])
    enc_cpu = min(results["encrypted"]["import"]["cpu"], results["encrypted2"]["import"]["cpu"])
    plain_cpu = min(results["plaintext"]["import"]["cpu"], results["plaintext2"]["import"]["cpu"])
    e50 = min(results[m]["lookup"]["orm"][0] for m in ("encrypted", "encrypted2"))
    p50 = min(results[m]["lookup"]["orm"][0] for m in ("plaintext", "plaintext2"))
    e95 = min(results[m]["lookup"]["orm"][1] for m in ("encrypted", "encrypted2"))
    p95 = min(results[m]["lookup"]["orm"][1] for m in ("plaintext", "plaintext2"))
    r50 = min(results[m]["lookup"]["raw"][0] for m in results)
    print(f"\n{engine}, {args.rows:,} rows (best of two runs each):")
    print(
        f"  import: encrypted {args.rows / enc:.0f} rows/s vs plaintext {args.rows / plain:.0f} rows/s "
        f"→ {enc / plain - 1:+.1%} time (target ≤ +20 %); CPU time {enc_cpu:.1f} vs {plain_cpu:.1f} s "
        f"→ {enc_cpu / plain_cpu - 1:+.1%} (robust to a loaded machine)"
    )
    print(
        f"  lookup: encrypted p50 {e50:.2f} / p95 {e95:.2f} ms vs plaintext p50 {p50:.2f} / p95 {p95:.2f} ms "
        f"→ +{e50 - p50:.2f} ms p50, +{e95 - p95:.2f} ms p95 (target ≤ +2 ms); raw engine p50 {r50:.2f} ms "
        f"(encrypted/raw {e50 / r50:.1f}×)"
    )


if __name__ == "__main__":
    main()
