"""Fixtures for the API tests: a populated little world (two Guangzhou counties and Beijing) with one actor
per row of the jurisdiction matrix, and a thin JSON client that authenticates with a bearer token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.factories import core as f
from xueji.accounts.auth import issue_token
from xueji.accounts.enums import Role
from xueji.accounts.models import User
from xueji.schools.models import School
from xueji.students.models import Person, ProblemRecord
from xueji.students.records import archive_attach
from xueji.students.services import register_students
from xueji.students.validation import clean_registration

PDF = b"%PDF-1.4\n% test document\n"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Argon2 costs ~1 s per account on a loaded machine; the API tests create ten accounts per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pdf_upload(name: str = "户口簿.pdf", data: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def register(school: School, actor: Any, **person: Any) -> Person:
    """Register one student through the real service; returns the Person."""
    reg = clean_registration(
        f.person_data(**person),
        f.enrollment_data(),
        [f.guardian_data()],
        school_stages=school.stages,
        today=timezone.localdate(),
    )
    [done] = register_students(actor=actor, school=school, registrations=[reg])
    return Person.objects.get(pk=done.person_id)


class Api:
    """JSON calls against /api/v1/ as ``user`` (bearer token) or anonymously."""

    def __init__(self, user: User | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.user = user
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user)[0]}"} if user is not None else {}

    def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(url, params or {}, **self.headers)

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.post(
            url, json.dumps(body if body is not None else {}), content_type="application/json", **self.headers
        )

    def patch(self, url: str, body: Any) -> Any:
        return self.client.patch(url, json.dumps(body), content_type="application/json", **self.headers)

    def upload(self, url: str, data: dict[str, Any]) -> Any:
        return self.client.post(url, data, **self.headers)

    def call(self, method: str, url: str, body: Any = None) -> Any:
        if method == "GET":
            return self.get(url, body)
        if method == "PATCH":
            return self.patch(url, body)
        if method == "UPLOAD":
            return self.upload(url, body)
        return self.post(url, body)


@dataclass
class World:
    school_a: School
    school_b: School
    student: Person  # in school_a (海珠区)
    student_b: Person  # in school_b (天河区)
    suspect: Person  # in school_a, flagged as a suspected duplicate (第9条)
    problem: ProblemRecord
    users: dict[str, User]

    def api(self, who: str) -> Api:
        return Api(self.users[who]) if who != "anonymous" else Api()


@pytest.fixture
def world(school_a: School, school_b: School, registrar_a: User, settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = str(tmp_path)
    users = {
        "registrar_a": registrar_a,
        "county_a": f.user(Role.DEPT_REGISTRAR, f.dept("440105"), username="county_haizhu"),
        "province_gd": f.user(Role.DEPT_REGISTRAR, f.dept("440000"), username="province_gd"),
        "registrar_b": f.registrar(school_b, username="reg_b"),
        "county_bj": f.user(Role.DEPT_REGISTRAR, f.dept("110101"), username="county_dongcheng"),
        "audit_gd": f.user(Role.AUDIT_ADMIN, f.dept("440000"), username="audit_gd"),
        "security_gd": f.user(Role.SECURITY_ADMIN, f.dept("440000"), username="security_gd"),
        "sysadmin_gd": f.user(Role.SYSTEM_ADMIN, f.dept("440000"), username="sysadmin_gd"),
        "audit_bj": f.user(Role.AUDIT_ADMIN, f.dept("110000"), username="audit_bj"),
    }
    student = register(school_a, registrar_a, name="李小红", gender="2")
    enrollment = student.enrollments.get()
    archive_attach(actor=registrar_a, enrollment=enrollment, kind="household", title="户口簿", data=PDF)
    student_b = register(school_b, users["registrar_b"], name="赵天河")
    # 第9条: two children without an identity number sharing name, sex and birth date.
    no_id = {"name": "王无证", "id_type": "Z", "id_number": "", "nationality": "CHN"}
    register(school_a, registrar_a, **no_id)
    suspect = register(school_a, registrar_a, **no_id)
    problem = ProblemRecord.objects.get(person=suspect)
    return World(
        school_a=school_a,
        school_b=school_b,
        student=student,
        student_b=student_b,
        suspect=suspect,
        problem=problem,
        users=users,
    )
