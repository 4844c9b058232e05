import io

import pytest
from django.core.management import CommandError, call_command

from governance.audit.models import AuditEvent
from governance.projects.models import ApiKey, hash_api_key
from tests.factories import make_environment, make_project

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash():
    make_environment(make_project("demo"), "production")
    out = io.StringIO()
    call_command("create_api_key", "demo", "production", "--name", "ci", stdout=out, stderr=io.StringIO())
    raw_key = out.getvalue().strip().splitlines()[-1]
    assert raw_key.startswith("sgk_") and len(raw_key) > 40
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == hash_api_key(raw_key)
    assert raw_key not in str(ApiKey.objects.values().get())
    assert api_key.prefix == raw_key[:12]
    assert AuditEvent.objects.filter(action="api_key.created", object_id=str(api_key.pk)).exists()


def test_create_api_key_for_a_missing_environment_says_so():
    make_project("demo")
    with pytest.raises(CommandError, match="No environment 'staging' in project 'demo'"):
        call_command("create_api_key", "demo", "staging")
