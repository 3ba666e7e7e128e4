"""Region codes suggested nationwide (issue 8 item 11): the type-ahead of the region code boxes (出生地, 户口所在地)
suggests any current GB/T 2260 division of the country by code prefix or by name, not only the user's
province."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import core as f
from xueji.regions import divisions
from xueji.regions.views import SUGGEST_LIMIT, region_suggestions
from xueji.students.forms import GuardianForm, RegistrationForm


def codes(text: str) -> list[str]:
    return [code for code, _name in region_suggestions(text)]


def test_a_code_prefix_suggests_divisions_of_any_province():
    assert codes("4401")[:2] == ["440100", "440103"]  # 广州市, then its districts by code
    assert codes("6501")[0] == "650100"  # 乌鲁木齐市, far from a Guangdong school
    assert all(c.startswith("11") for c in codes("11"))
    assert codes("440105") == ["440105"]
    assert len(codes("4")) == SUGGEST_LIMIT  # at most a screenful


def test_a_name_suggests_the_division_with_its_full_name():
    assert region_suggestions("海珠") == [("440105", "广东省广州市海珠区")]
    assert codes("广州 海珠") == ["440105"]  # parts of the full name
    assert codes("ｈ") == []  # nothing is called so
    # the division's own name first (exactly, then beginning with it), then divisions under a matching one
    assert codes("朝阳")[:4] == ["110105", "211300", "211321", "220104"]
    assert codes("乌鲁木齐")[0] == "650100"


def test_only_current_divisions_are_suggested():
    """110103 崇文区 (merged into 东城区 in 2010) stays valid in old ID numbers but is not a place to enter."""
    assert divisions.is_known_address_code("110103") and divisions.get_division("110103") is None
    assert "110103" not in codes("1101") and codes("崇文") == []


def test_blank_input_suggests_nothing():
    assert region_suggestions("") == region_suggestions("   ") == []


@pytest.mark.django_db
def test_the_suggestions_endpoint(client, school_a, registrar_a):
    url = reverse("regions:suggest")
    assert client.get(url, {"q": "海珠"}).status_code == 302  # signed-in users only
    client.force_login(registrar_a)
    body = client.get(url, {"q": "海珠"}).content.decode()
    assert body.strip() == '<option value="440105">广东省广州市海珠区</option>'
    # htmx sends the box's value under the box's own name
    body = client.get(url, {"guardians.0.household_code": "6501"}).content.decode()
    assert re.findall(r'value="(\d{6})"', body)[0] == "650100"
    assert client.get(url, {"q": ""}).content.decode().strip() == ""
    # no scope, no audit: public reference data, the same for a user of another province
    client.force_login(f.user("dept_registrar", f.dept("110101")))
    assert "440105" in client.get(url, {"q": "海珠"}).content.decode()


def test_the_region_boxes_ask_for_suggestions_as_one_types():
    """Each region box carries its own datalist (any page gets suggestions: registration, the family form)."""
    form = RegistrationForm(stages=["primary"], extra_specs=[], schools=[])
    html = str(form["birthplace_code"])
    assert f'hx-get="{reverse("regions:suggest")}"' in html
    assert 'list="id_birthplace_code-regions"' in html and 'hx-target="#id_birthplace_code-regions"' in html
    assert html.endswith('<datalist id="id_birthplace_code-regions"></datalist>')
    assert 'hx-trigger="input changed' in html
    assert 'inputmode="numeric"' not in html  # a place name may be typed
    guardian = str(form["guardians.0.household_code"])  # a name with dots: a valid CSS id all the same
    assert 'hx-target="#id_guardians-0-household_code-regions"' in guardian
    assert '<datalist id="id_guardians-0-household_code-regions">' in guardian
    assert 'hx-target="#' in str(GuardianForm()["household_code"])
