"""Pages: list, row editor (with htmx add-row), detail, filing and activation; anonymous, wrong role,
out of jurisdiction and allowed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import core as f
from tests.factories import policies as pf
from xueji.accounts.enums import Role
from xueji.policies.models import ExtraFieldSet

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


def _rows(*rows, total=None):
    """POST data for the row editor."""
    data = {
        "province_code": "440000",
        "rows-TOTAL_FORMS": str(total if total is not None else len(rows)),
        "rows-INITIAL_FORMS": "0",
        "rows-MIN_NUM_FORMS": "0",
        "rows-MAX_NUM_FORMS": "100",
    }
    for i, row in enumerate(rows):
        for name, value in row.items():
            data[f"rows-{i}-{name}"] = value
    return data


BUS = {
    "key": "bus_route",
    "label": "校车线路",
    "type": "choice",
    "required": "True",
    "options": "01 一号线\n02 二号线",
}
NOTE = {"key": "note", "label": "备注", "type": "text", "required": "False", "max_length": "50"}


# --------------------------------------------------------------------------------------------------- list


def test_anonymous_is_sent_to_login(client, tree):
    response = client.get(reverse("policies:list"))
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_list_shows_versions_with_badges(client, gd_registrar):
    pf.field_set(actor=gd_registrar, active=True)
    pf.field_set(actor=gd_registrar)
    response = _login(client, gd_registrar).get(reverse("policies:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "广东省教育厅" in html
    assert '<span class="badge ok">生效中</span>' in html
    assert '<span class="badge warn">草稿</span>' in html
    assert reverse("policies:new") in html


def test_list_for_county_is_read_only_and_hides_other_provinces(
    client, gd_registrar, bj_registrar, county_registrar
):
    pf.field_set(actor=gd_registrar)
    pf.field_set("110000", actor=bj_registrar)
    html = _login(client, county_registrar).get(reverse("policies:list")).content.decode()
    assert "广东省教育厅" in html
    assert "北京市教育委员会" not in html
    assert reverse("policies:new") not in html


def test_list_forbidden_without_data_role(client, tree):
    admin = f.user(Role.SYSTEM_ADMIN, f.dept("440000"))
    assert _login(client, admin).get(reverse("policies:list")).status_code == 403


def test_list_forbidden_for_unfiled_registrar(client, tree):
    user = f.user(Role.DEPT_REGISTRAR, f.dept("440000"), filed=False)
    assert _login(client, user).get(reverse("policies:list")).status_code == 403


# ------------------------------------------------------------------------------------------------ editor


def test_new_page_renders_row_editor(client, gd_registrar):
    response = _login(client, gd_registrar).get(reverse("policies:new"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="rows-0-key"' in html and 'name="rows-0-options"' in html
    assert 'hx-get="/policies/new/row/"' in html
    assert "textarea" in html  # options only; the definition itself is rows, not a JSON box
    assert 'name="fields"' not in html


@pytest.mark.parametrize("fixture", ["county_registrar", "registrar_a"])
def test_new_page_forbidden_below_province(client, request, fixture):
    user = request.getfixturevalue(fixture)
    assert _login(client, user).get(reverse("policies:new")).status_code == 403
    assert _login(client, user).post(reverse("policies:new"), _rows(NOTE)).status_code == 403
    assert ExtraFieldSet.objects.count() == 0


def test_htmx_add_row_returns_next_row_and_new_total(client, gd_registrar):
    response = _login(client, gd_registrar).get(
        reverse("policies:row"), {"rows-TOTAL_FORMS": "3"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="rows-3-key"' in html and 'name="rows-3-DELETE"' in html
    assert 'id="id_rows-TOTAL_FORMS"' in html and 'value="4"' in html and 'hx-swap-oob="true"' in html
    assert "字段 4" in html


def test_add_row_forbidden_for_county(client, county_registrar):
    response = _login(client, county_registrar).get(reverse("policies:row"), {"rows-TOTAL_FORMS": "1"})
    assert response.status_code == 403


def test_add_row_without_javascript(client, gd_registrar):
    response = _login(client, gd_registrar).post(reverse("policies:new"), {**_rows(NOTE), "add_row": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="rows-1-key"' in html
    assert 'value="note"' in html
    assert ExtraFieldSet.objects.count() == 0


def test_define_through_rows(client, gd_registrar):
    blank = {"key": "", "label": "", "type": "text"}
    deleted = {"key": "gone", "label": "删掉的", "type": "text", "DELETE": "on"}
    response = _login(client, gd_registrar).post(reverse("policies:new"), _rows(BUS, blank, deleted, NOTE))
    fs = ExtraFieldSet.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("policies:detail", args=[fs.pk])
    assert (fs.province_code, fs.version, fs.is_active) == ("440000", 1, False)
    assert fs.fields == [
        {
            "key": "bus_route",
            "label": "校车线路",
            "type": "choice",
            "required": True,
            "choices": [{"code": "01", "label": "一号线"}, {"code": "02", "label": "二号线"}],
        },
        {"key": "note", "label": "备注", "type": "text", "required": False, "max_length": 50},
    ]


def test_schema_errors_land_on_the_row_inputs(client, gd_registrar):
    bad = [
        {"key": "name", "label": "别名", "type": "text"},
        {"key": "bus", "label": "校车", "type": "choice"},
        {"key": "km", "label": "距离", "type": "text", "options": "01 一"},
    ]
    response = _login(client, gd_registrar).post(reverse("policies:new"), _rows(*bad))
    html = response.content.decode()
    assert response.status_code == 400
    assert "第 1 个字段的字段键“name”与国家基础学籍信息字段重名" in html
    assert "第 2 个字段的选项不能为空" in html
    assert "第 3 个字段的选项不适用于“文本”类型" in html
    assert 'value="别名"' in html  # the user's input is kept
    assert ExtraFieldSet.objects.count() == 0


def test_unparseable_option_line(client, gd_registrar):
    row = {**BUS, "options": "01 一号线\n只有标签"}
    response = _login(client, gd_registrar).post(reverse("policies:new"), _rows(row))
    assert response.status_code == 400
    assert "选项第 2 行“只有标签”须写成“代码 标签”" in response.content.decode()
    assert ExtraFieldSet.objects.count() == 0


def test_all_rows_blank(client, gd_registrar):
    response = _login(client, gd_registrar).post(reverse("policies:new"), _rows({"key": "", "type": "text"}))
    assert response.status_code == 400
    assert "至少定义一个非基础学籍信息字段" in response.content.decode()


def test_new_from_existing_version_prefills_rows(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar, active=True)
    html = _login(client, gd_registrar).get(reverse("policies:new"), {"from": fs.pk}).content.decode()
    assert 'value="residence_permit_no"' in html
    assert "01 一号线\n02 二号线\n00 不乘校车" in html


def test_new_from_other_province_is_404(client, gd_registrar, bj_registrar):
    bj = pf.field_set("110000", actor=bj_registrar)
    response = _login(client, gd_registrar).get(reverse("policies:new"), {"from": bj.pk})
    assert response.status_code == 404


def test_edit_draft(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    client = _login(client, gd_registrar)
    assert client.get(reverse("policies:edit", args=[fs.pk])).status_code == 200
    response = client.post(reverse("policies:edit", args=[fs.pk]), _rows(NOTE))
    assert response.status_code == 302
    fs.refresh_from_db()
    assert [d["key"] for d in fs.fields] == ["note"]


def test_edit_filed_version_is_refused(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar, filed=True)
    response = _login(client, gd_registrar).post(reverse("policies:edit", args=[fs.pk]), _rows(NOTE))
    assert response.status_code == 302
    assert response.url == reverse("policies:detail", args=[fs.pk])
    fs.refresh_from_db()
    assert fs.fields[0]["key"] == "residence_permit_no"


def test_edit_by_county_is_403_and_by_other_province_404(
    client, gd_registrar, county_registrar, bj_registrar
):
    fs = pf.field_set(actor=gd_registrar)
    assert _login(client, county_registrar).get(reverse("policies:edit", args=[fs.pk])).status_code == 403
    assert _login(client, bj_registrar).get(reverse("policies:edit", args=[fs.pk])).status_code == 404


# ------------------------------------------------------------------------------------------------ detail


def test_detail_shows_definition_and_filing_form(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    html = _login(client, gd_registrar).get(reverse("policies:detail", args=[fs.pk])).content.decode()
    assert "居住证号码" in html and "residence_permit_no" in html
    assert "01 一号线；02 二号线；00 不乘校车" in html
    assert reverse("policies:file", args=[fs.pk]) in html
    assert reverse("policies:activate", args=[fs.pk]) not in html


def test_detail_for_county_has_no_actions(client, gd_registrar, county_registrar):
    fs = pf.field_set(actor=gd_registrar, filed=True)
    response = _login(client, county_registrar).get(reverse("policies:detail", args=[fs.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("policies:activate", args=[fs.pk]) not in html


def test_detail_other_province_is_404(client, gd_registrar, bj_registrar):
    fs = pf.field_set(actor=gd_registrar)
    assert _login(client, bj_registrar).get(reverse("policies:detail", args=[fs.pk])).status_code == 404


def test_file_then_activate_through_pages(client, gd_registrar):
    old = pf.field_set(actor=gd_registrar, active=True)
    fs = pf.field_set(actor=gd_registrar)
    client = _login(client, gd_registrar)
    response = client.post(
        reverse("policies:file", args=[fs.pk]),
        {"filed_on": "2026-03-02", "filing_reference": "教基备〔2026〕9号"},
    )
    assert response.status_code == 302
    html = client.get(reverse("policies:detail", args=[fs.pk])).content.decode()
    assert reverse("policies:activate", args=[fs.pk]) in html
    response = client.post(reverse("policies:activate", args=[fs.pk]))
    assert response.status_code == 302
    fs.refresh_from_db()
    old.refresh_from_db()
    assert (fs.is_active, old.is_active, fs.filing_reference) == (True, False, "教基备〔2026〕9号")


def test_file_errors_rendered_on_the_form(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    response = _login(client, gd_registrar).post(
        reverse("policies:file", args=[fs.pk]), {"filed_on": "", "filing_reference": ""}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "报部备案日期为必填项" in html and "备案文号为必填项" in html
    response = client.post(
        reverse("policies:file", args=[fs.pk]), {"filed_on": "2026-13-01", "filing_reference": "x"}
    )
    assert response.status_code == 400
    assert "报部备案日期格式不正确" in response.content.decode()


def test_activate_unfiled_shows_conflict(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar)
    response = _login(client, gd_registrar).post(reverse("policies:activate", args=[fs.pk]))
    assert response.status_code == 409
    assert "尚未报国务院教育行政部门备案，不能启用" in response.content.decode()
    fs.refresh_from_db()
    assert fs.is_active is False


def test_file_and_activate_by_county_are_403(client, gd_registrar, county_registrar):
    draft = pf.field_set(actor=gd_registrar)
    filed = pf.field_set(actor=gd_registrar, filed=True)
    client = _login(client, county_registrar)
    assert (
        client.post(
            reverse("policies:file", args=[draft.pk]), {"filed_on": "2026-03-02", "filing_reference": "x"}
        ).status_code
        == 403
    )
    assert client.post(reverse("policies:activate", args=[filed.pk])).status_code == 403
    draft.refresh_from_db()
    filed.refresh_from_db()
    assert (draft.filed_on, filed.is_active) == (None, False)


def test_file_by_other_province_is_404(client, gd_registrar, bj_registrar):
    fs = pf.field_set(actor=gd_registrar)
    response = _login(client, bj_registrar).post(
        reverse("policies:file", args=[fs.pk]), {"filed_on": "2026-03-02", "filing_reference": "x"}
    )
    assert response.status_code == 404


def test_activate_requires_post(client, gd_registrar):
    fs = pf.field_set(actor=gd_registrar, filed=True)
    assert _login(client, gd_registrar).get(reverse("policies:activate", args=[fs.pk])).status_code == 405
