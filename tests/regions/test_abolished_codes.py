"""Historical region codes with validity years (issue 8 item 5, GB/T 2260 change history): a 居民身份证 whose
address code was abolished before the birth date it encodes is refused (第9条), in the form, the API and the
import alike. Dated by year (``abolished_codes.csv``, from python-stdnum's loc.dat); one year of grace."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import core as f
from tests.factories import students as sf
from tests.students.test_names import (
    api_errors,
    form_errors,
    import_errors,
    import_row,
    via_api,
    via_form,
    via_import,
)
from xueji.core.errors import FieldError
from xueji.regions import divisions
from xueji.students.identity import validate_identity
from xueji.students.models import Person

CHONGWEN = "110103"  # 崇文区, merged into 东城区 in 2010


def _id(region: str, birth: date) -> str:
    return f.resident_id(region=region, birth=birth)


def test_the_dated_table_knows_chongwen_and_miyun() -> None:
    assert divisions.abolished_in(CHONGWEN) == 2010
    assert divisions.abolished_in("110228") == 2015  # 密云县 → 密云区 (110118)
    assert divisions.abolished_in("110118") is None  # current
    assert divisions.abolished_in("440105") is None


def test_abolished_before_gives_one_year_of_grace() -> None:
    assert divisions.abolished_before(CHONGWEN, date(2014, 5, 1)) == 2010
    assert divisions.abolished_before(CHONGWEN, date(2012, 1, 1)) == 2010
    assert divisions.abolished_before(CHONGWEN, date(2011, 12, 31)) is None  # the year after: grace
    assert divisions.abolished_before(CHONGWEN, date(2010, 12, 31)) is None  # the year of the change
    assert divisions.abolished_before(CHONGWEN, date(1990, 1, 1)) is None
    assert divisions.abolished_before("440105", date(2020, 1, 1)) is None


def test_the_table_holds_no_current_code_and_only_known_codes() -> None:
    with divisions.ABOLISHED_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 3000
    codes = {r["code"] for r in rows}
    assert not any(divisions.get_division(code) for code in codes)
    assert all(divisions.is_known_address_code(code) for code in codes)
    assert all(1949 <= int(r["last_year"]) <= 2026 for r in rows)


def test_the_build_script_parses_periods_and_keeps_renamed_codes_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "scripts" / "build_divisions.py"
    spec = importlib.util.spec_from_file_location("build_divisions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_divisions", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    text = (
        '11 province="北京市"\n'
        '  0103 county="[-2010]崇文区"\n'
        '  0110 county="[-1991]东郊区,[1992-]东丽区"\n'
        '  0228 county="[1982-2015]密云县"\n'
        '  0101 county="东城区"\n'
        '  0311 county="[1983-1982]郊区,[1983-1995]旧堡区"\n'
    )
    periods = module.parse_loc_periods(text)
    assert periods["110110"] == [(None, 1991), (1992, None)]
    abolished = module.abolished_codes(periods, current={"110101"})
    assert abolished == {"110103": 2010, "110228": 2015, "110311": 1995}
    assert module.abolished_codes(periods, current={"110103"}).get("110103") is None  # current wins


def test_an_id_whose_code_was_abolished_before_the_birth_is_refused() -> None:
    with pytest.raises(FieldError) as exc:
        validate_identity("1", _id(CHONGWEN, date(2014, 5, 1)), today=date(2026, 9, 1))
    assert (exc.value.field, exc.value.code) == ("id_number", "id_region_abolished")
    assert exc.value.message == (
        "身份证件号前6位地址码 110103 已于 2010 年撤销，早于号码中的出生日期 2014-05-01，"
        "不可能是有效的身份证号码：请对照户口簿核对号码（第九条）"
    )


def test_an_id_of_someone_born_before_the_abolition_stays_valid() -> None:
    parsed = validate_identity("1", _id(CHONGWEN, date(1985, 5, 1)), today=date(2026, 9, 1))
    assert parsed.region_code == CHONGWEN
    assert validate_identity("1", _id(CHONGWEN, date(2011, 5, 1)), today=date(2026, 9, 1)).birth_date == date(
        2011, 5, 1
    )
    # The check can be switched off by the caller (``region_abolished=None``), e.g. to read old data.
    assert validate_identity("1", _id(CHONGWEN, date(2014, 5, 1)), region_abolished=None).number


@pytest.mark.django_db
def test_form_api_and_import_refuse_the_abolished_code_the_same_way(
    client: Client, school_a: Any, registrar_a: Any, tmp_path: Path
) -> None:
    birth = date(2019, 5, 1)
    person = f.person_data(birth_date=birth, id_number=_id(CHONGWEN, birth))
    message = form_errors(via_form(client, registrar_a, person))["id_number"]
    assert message.startswith("身份证件号前6位地址码 110103 已于 2010 年撤销")
    assert api_errors(via_api(registrar_a, school_a, person))["id_number"] == message
    assert import_errors(via_import(registrar_a, school_a, tmp_path, [import_row(person)])) == {
        "身份证件号": message
    }
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_a_family_members_number_is_checked_too(client: Client, registrar_a: Any) -> None:
    guardian = f.guardian_data(id_type="1", id_number=_id(CHONGWEN, date(2013, 1, 1)))
    client.force_login(registrar_a)
    response = client.post(reverse("students:register"), sf.registration_post(guardians=[guardian]))
    assert "已于 2010 年撤销" in form_errors(response)["guardians.0.id_number"]
