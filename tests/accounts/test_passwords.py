"""Password profiles (security.md §3, acceptance test 15; 办法第24条 定期更改密码)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import accounts as fa
from tests.factories import core as f
from xueji.accounts import passwords
from xueji.accounts.models import PasswordHistory, User
from xueji.accounts.services import password_change, temporary_password
from xueji.core.errors import FieldError, Forbidden


def _codes(password: str, user: User | None = None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {e.code for e in exc.error_list}
    return set()


@pytest.mark.parametrize(
    ("profile", "password", "codes"),
    [
        ("dengbao", "Ab1!xyz", {"password_too_short"}),  # 7 characters
        ("dengbao", "abcdefgh12", {"password_too_simple"}),  # 2 classes
        ("dengbao", "abcdefgh!!", {"password_too_simple"}),  # 2 classes
        ("dengbao", "Abcdefgh12", set()),  # 3 classes, 10 characters
        ("dengbao", "qwertz#1Lm", set()),
        ("dengbao", fa.PLAIN_PASSPHRASE_64, {"password_too_simple"}),
        ("nist", "Abcdefgh12!x", {"password_too_short"}),  # 12 < 15, composition does not help
        ("nist", "all lower case words", set()),  # no composition rules
        ("nist", fa.PLAIN_PASSPHRASE_64, set()),
    ],
)
def test_profile_length_and_composition(settings, profile, password, codes):
    settings.PASSWORD_POLICY_PROFILE = profile
    assert _codes(password) == codes


@pytest.mark.parametrize("profile", ["dengbao", "nist"])
def test_both_profiles_reject_common_password_and_accept_64_chars(settings, profile):
    settings.PASSWORD_POLICY_PROFILE = profile
    assert "password_too_common" in _codes("Password123")
    assert _codes(fa.PASSPHRASE_64) == set()
    assert _codes("A1b!" * 32) == set()  # 128 characters: the upper bound is allowed
    assert _codes("A1b!" * 32 + "x") == {"password_too_long"}


def test_unknown_profile_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.PASSWORD_POLICY_PROFILE = "lax"
    with pytest.raises(ImproperlyConfigured):
        passwords.profile()


@pytest.mark.parametrize("profile", ["dengbao", "nist"])
def test_temporary_password_satisfies_both_profiles(settings, profile):
    settings.PASSWORD_POLICY_PROFILE = profile
    value = temporary_password()
    assert len(value) == 19
    assert passwords.character_classes(value) == 4
    assert _codes(value) == set()


def test_character_classes_counts_cjk_as_other():
    assert passwords.character_classes("学籍abc") == 2
    assert passwords.character_classes("Aa1!") == 4


# --- expiry --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dengbao_password_expires_after_max_age(settings):
    settings.PASSWORD_POLICY_PROFILE = "dengbao"
    settings.PASSWORD_MAX_AGE_DAYS = 90
    now = timezone.now()
    user = User(password_changed_at=now - timedelta(days=91))
    assert passwords.password_expired(user, now) is True
    user.password_changed_at = now - timedelta(days=89)
    assert passwords.password_expired(user, now) is False
    user.password_changed_at = None
    assert passwords.password_expired(user, now) is True


def test_nist_passwords_never_expire(settings):
    settings.PASSWORD_POLICY_PROFILE = "nist"
    now = timezone.now()
    assert passwords.password_expired(User(password_changed_at=now - timedelta(days=4000)), now) is False
    assert passwords.password_expired(User(password_changed_at=None), now) is False


@pytest.mark.django_db
def test_setting_a_password_stamps_password_changed_at(tree):
    before = timezone.now()
    user = f.user()
    user.refresh_from_db()
    assert user.password_changed_at is not None
    assert user.password_changed_at >= before


# --- history ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dengbao_history_rejects_current_and_last_five(settings, tree):
    settings.PASSWORD_POLICY_PROFILE = "dengbao"
    settings.PASSWORD_HISTORY = 5
    user = f.user()
    used = [f.PASSWORD] + [f"Xj-Hist-{i}-Pass!" for i in range(1, 6)]
    for old, new in itertools.pairwise(used):
        password_change(actor=user, user=user, old=old, new=new)
    assert PasswordHistory.objects.filter(user=user).count() == 5
    current = used[-1]
    # The five most recent (current included) are refused...
    for earlier in used[1:-1]:
        with pytest.raises(FieldError) as exc:
            password_change(actor=user, user=user, old=current, new=earlier)
        assert exc.value.code == "password_reused"
    # ...and the sixth-most-recent has dropped out of the history.
    password_change(actor=user, user=user, old=current, new=used[0])
    assert user.check_password(used[0])


@pytest.mark.django_db
def test_nist_has_no_history_but_refuses_the_same_password(settings, tree):
    settings.PASSWORD_POLICY_PROFILE = "nist"
    user = f.user()
    first = "river pearl under the long bridge"
    password_change(actor=user, user=user, old=f.PASSWORD, new=first)
    password_change(actor=user, user=user, old=first, new=f.PASSWORD)  # reuse allowed
    with pytest.raises(FieldError) as exc:
        password_change(actor=user, user=user, old=f.PASSWORD, new=f.PASSWORD)
    assert exc.value.code == "password_unchanged"


@pytest.mark.django_db
def test_password_change_checks_old_password_and_validators(tree):
    user = f.user()
    with pytest.raises(FieldError) as exc:
        password_change(actor=user, user=user, old="not-it", new="Xj-New-Pass-2026!")
    assert exc.value.code == "wrong_password"
    assert exc.value.fields == {"old_password": "原密码：不正确"}
    with pytest.raises(FieldError) as exc:
        password_change(actor=user, user=user, old=f.PASSWORD, new="Password123")
    assert exc.value.code == "password_too_common"
    assert list(exc.value.fields) == ["new_password"]


@pytest.mark.django_db
def test_password_change_clears_flag_and_audits(tree):
    from xueji.audit.enums import EventType
    from xueji.audit.models import AuditEvent

    user = f.user()
    User.objects.filter(pk=user.pk).update(must_change_password=True)
    user.refresh_from_db()
    password_change(actor=user, user=user, old=f.PASSWORD, new="Xj-New-Pass-2026!")
    user.refresh_from_db()
    assert user.must_change_password is False
    assert user.check_password("Xj-New-Pass-2026!")
    event = AuditEvent.objects.get(event_type=EventType.PASSWORD_CHANGED, subject_id=str(user.pk))
    assert event.actor_id == user.pk


@pytest.mark.django_db
def test_nobody_changes_another_persons_password(tree):
    user, other = f.user(), f.user()
    with pytest.raises(Forbidden) as exc:
        password_change(actor=other, user=user, old=f.PASSWORD, new="Xj-New-Pass-2026!")
    assert exc.value.code == "self_only"
