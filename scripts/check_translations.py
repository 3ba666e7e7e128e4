"""Every user-visible string has its English translation (issue 8 item 14), without dirtying the tree.

`make lint` runs this. It copies the translatable sources and ``locale/`` into a temporary directory, runs
``manage.py makemessages -l en --no-obsolete`` there (both domains: ``django`` and, if any JavaScript asks for
translations, ``djangojs``) and fails, naming each string and where it comes from, when a msgid has no
translation, a fuzzy one, or an "English" text that still holds Chinese characters. It then checks the committed
catalogues with ``msgfmt --check`` (placeholders such as ``%(name)s`` / ``{name}`` and plural forms) and that the
committed ``.mo`` says what the ``.po`` says (``make`` does not compile; the ``.mo`` is committed next to it).

    .venv/bin/python scripts/check_translations.py            # the check (exit 1 on any problem)
    .venv/bin/python scripts/check_translations.py --update   # refresh locale/en from the sources, compile

Use ``--update`` rather than a bare ``manage.py makemessages``: it also collects the texts marked with ``N_``
(``gettext_noop``) that are translated when shown.

``--update`` is for whoever translates: it rewrites ``locale/en/LC_MESSAGES/*.po`` with new msgids added (empty)
and vanished ones dropped, keeps every existing translation, and recompiles the ``.mo``.
Needs GNU gettext (``msgfmt``, ``msguniq``, ``msgmerge``, ``xgettext``) like ``makemessages`` itself.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "en"
# What makemessages reads: the code, the templates, the settings (language names) and the browser scripts.
SOURCES = ("xueji", "templates", "config", "static", "manage.py")
DOMAINS = ("django", "djangojs")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# msgids whose English text is meant to be Chinese: a language is named in its own script in the language menu.
CHINESE_ON_PURPOSE = {"简体中文"}
# ``manage.py makemessages -l en --no-obsolete --no-wrap``, run in the copy, whose xgettext also reads ``N_``:
# the change kinds mark texts they translate later (``gettext_noop as N_``), a name Django does not pass.
MAKEMESSAGES = """
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.core.management import call_command
from django.core.management.commands import makemessages

class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=N_"]

call_command(Command(), locale=[{language!r}], no_obsolete=True, no_wrap=True, verbosity=0, {options})
"""


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


def parse_po(text: str) -> list[Entry]:
    """The entries of a PO file (obsolete ``#~`` entries skipped; the header is the entry with msgid "")."""
    entries: list[Entry] = []
    entry = Entry()
    seen_keyword = False
    target: tuple[str, int] = ("", 0)

    def finish() -> None:
        nonlocal entry, seen_keyword
        if seen_keyword:
            entries.append(entry)
        entry, seen_keyword = Entry(), False

    def append(kind: str, index: int, value: str) -> None:
        if kind == "msgid":
            entry.msgid += value
        elif kind == "msgid_plural":
            entry.msgid_plural = (entry.msgid_plural or "") + value
        elif kind == "msgctxt":
            entry.msgctxt = (entry.msgctxt or "") + value
        else:
            entry.msgstr[index] = entry.msgstr.get(index, "") + value

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if seen_keyword and target[0] == "msgstr":
                finish()  # a comment after a complete entry starts the next one
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#:"):
                entry.locations.extend(line[2:].split())
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")$', line)
        if match:
            kind, index, literal = match.group(1), int(match.group(2) or 0), match.group(3)
            if kind in ("msgid", "msgctxt") and seen_keyword and target[0] == "msgstr":
                finish()
            seen_keyword = True
            target = (kind, index)
            if kind == "msgstr":
                entry.msgstr.setdefault(index, "")
            append(kind, index, ast.literal_eval(literal))
        elif line.startswith('"'):
            append(target[0], target[1], ast.literal_eval(line))
        else:
            raise ValueError(f"not PO syntax: {raw!r}")
    finish()
    return entries


def problems(entries: list[Entry]) -> list[str]:
    """One line per msgid that would show Chinese to an English reader."""
    found = []
    for entry in entries:
        if entry.msgid == "" and entry.msgctxt is None:
            continue  # the header
        where = ", ".join(entry.locations) or "(no source location)"
        shown = entry.label.replace("\n", "\\n")
        translations = list(entry.msgstr.values())
        if not translations or any(not text for text in translations):
            found.append(f"untranslated: {shown!r}  [{where}]")
        elif "fuzzy" in entry.flags:
            found.append(f"fuzzy (check and clear the flag): {shown!r}  [{where}]")
        elif entry.msgid not in CHINESE_ON_PURPOSE and any(CJK.search(text) for text in translations):
            found.append(f"Chinese left in the English text: {shown!r}  [{where}]")
    return found


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603 - our interpreter, gettext


def make_messages(workdir: Path, locations: str) -> list[str]:
    """Copy the sources and locale/ into ``workdir`` and run makemessages there; returns the errors."""
    # Vendored libraries (static/vendor: htmx, ECharts) carry their own strings, not ours to translate.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "vendor")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, workdir / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, workdir / name)
    shutil.copytree(ROOT / "locale", workdir / "locale", ignore=ignore)
    errors = []
    for domain in DOMAINS:
        options = f"domain={domain!r}, add_location={locations!r}"
        result = run([sys.executable, "-c", MAKEMESSAGES.format(language=LANGUAGE, options=options)], workdir)
        if result.returncode != 0:
            errors.append(f"makemessages -d {domain} failed:\n{result.stdout}{result.stderr}")
    return errors


def catalogue(mo: Path) -> dict[object, object]:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


def compile_check(po: Path, scratch: Path) -> list[str]:
    """``msgfmt --check`` on one committed catalogue, and its committed ``.mo`` must match it."""
    compiled = scratch / f"{po.stem}.mo"
    result = run(["msgfmt", "--check", "--output-file", str(compiled), str(po)], cwd=ROOT)
    if result.returncode != 0:
        return [f"msgfmt --check {po.relative_to(ROOT)}:\n{result.stderr.strip()}"]
    mo = po.with_suffix(".mo")
    if not mo.exists():
        return [f"{mo.relative_to(ROOT)} is missing: run scripts/check_translations.py --update"]
    if catalogue(mo) != catalogue(compiled):
        return [f"{mo.relative_to(ROOT)} is stale: run scripts/check_translations.py --update"]
    return []


def check() -> int:
    messages_dir = Path("locale") / LANGUAGE / "LC_MESSAGES"
    with tempfile.TemporaryDirectory(prefix="xueji-messages-") as temp:
        workdir = Path(temp) / "tree"
        workdir.mkdir()
        errors = make_messages(workdir, "full")
        for domain in DOMAINS:
            po = workdir / messages_dir / f"{domain}.po"
            if po.exists():
                errors += [f"{domain}: {line}" for line in problems(parse_po(po.read_text("utf-8")))]
        for po in sorted((ROOT / messages_dir).glob("*.po")):
            errors += compile_check(po, Path(temp))
    for line in errors:
        print(line)
    if errors:
        print(
            f"\n{len(errors)} translation problem(s). Wrap new UI text in gettext / {{% translate %}}, then run "
            "`.venv/bin/python scripts/check_translations.py --update`, translate the empty msgstr entries in "
            "locale/en/LC_MESSAGES/*.po and run --update again (it compiles the .mo).",
            file=sys.stderr,
        )
        return 1
    print("translations: every msgid has its English text; catalogues compile and the .mo files are current")
    return 0


def update() -> int:
    messages_dir = Path("locale") / LANGUAGE / "LC_MESSAGES"
    with tempfile.TemporaryDirectory(prefix="xueji-messages-") as temp:
        workdir = Path(temp)
        errors = make_messages(workdir, "file")
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1
        for domain in DOMAINS:
            po = workdir / messages_dir / f"{domain}.po"
            target = ROOT / messages_dir / f"{domain}.po"
            if not po.exists():
                continue
            entries = parse_po(po.read_text("utf-8"))
            if not target.exists() and all(e.msgid == "" for e in entries):
                continue  # no JavaScript strings: no djangojs catalogue
            shutil.copy2(po, target)
            result = run(
                ["msgfmt", "--check", "--output-file", str(target.with_suffix(".mo")), str(target)], ROOT
            )
            if result.returncode != 0:
                print(result.stderr, file=sys.stderr)
                return 1
            left = problems(entries)
            print(f"{target.relative_to(ROOT)}: {len(entries) - 1} msgids, {len(left)} to translate")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--update", action="store_true", help="refresh locale/en from the sources and compile"
    )
    return update() if parser.parse_args().update else check()


if __name__ == "__main__":
    sys.exit(main())
