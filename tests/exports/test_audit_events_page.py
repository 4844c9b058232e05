"""The audit events page: the chain's events, newest first, filtered as the export is, for those who may audit."""

import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.audit.selectors import PAGE_SIZE
from governance.audit.services import Actor, record_event
from governance.projects.models import AUDITOR_GROUP, ApiKey, Role
from tests.factories import make_api_key, make_environment, make_member, make_project, make_user

pytestmark = pytest.mark.django_db

EVENTS = reverse("exports:audit_events")


@pytest.fixture
def projects():
    alpha, beta = make_project("alpha"), make_project("beta")
    make_environment(alpha, "production"), make_environment(beta, "development")
    return alpha, beta


def auditor():
    user = make_user()
    user.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    return user


def shown(page: str) -> list[int]:
    """The sequences of the events on a page, in the order shown."""
    return [int(sequence) for sequence in re.findall(r'<tr id="event-(\d+)">', page)]


def test_an_auditor_reads_every_event_newest_first_with_its_payload_and_hash(client, projects):
    client.force_login(auditor())
    record_event(action="catalog.loaded", actor=Actor.system("loadcatalog"), payload={"provider": "Simulator ✓"})

    page = client.get(EVENTS).content.decode()

    everything = list(AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True))
    assert shown(page) == everything
    newest = AuditEvent.objects.order_by("-sequence").first()
    assert "<code>catalog.loaded</code>" in page and '<span class="muted">site-wide</span>' in page
    assert "&quot;provider&quot;: &quot;Simulator ✓&quot;" in page
    assert newest.hash in page and newest.previous_hash in page


def test_a_project_admin_sees_only_their_projects_events(client, projects):
    alpha, beta = projects
    client.force_login(make_member(alpha, Role.ADMIN))
    record_event(action="catalog.loaded", actor=Actor.system("loadcatalog"), payload={})

    page = client.get(EVENTS).content.decode()

    mine = AuditEvent.objects.filter(project=alpha).order_by("-sequence")
    assert shown(page) == list(mine.values_list("sequence", flat=True))
    assert not AuditEvent.objects.filter(project=beta, sequence__in=shown(page)).exists()
    assert '<span class="muted">site-wide</span>' not in page  # no catalog load, no site-wide event

    refused = client.get(EVENTS, {"project": "beta"}).content.decode()
    assert "These filters cannot be applied" in refused and shown(refused) == []


def test_filters_narrow_the_events_and_a_bad_one_says_why(client, projects):
    alpha, _ = projects
    client.force_login(auditor())

    page = client.get(EVENTS, {"project": "alpha", "action": "policy.revised"}).content.decode()
    wanted = AuditEvent.objects.filter(project=alpha, action="policy.revised")
    assert wanted.exists() and set(shown(page)) == set(wanted.values_list("sequence", flat=True))

    bad = client.get(EVENTS, {"action": "DROP TABLE"}).content.decode()
    assert "is not an audit action" in bad and shown(bad) == []

    empty = client.get(EVENTS, {"since": "2099-01-01"}).content.decode()
    assert "No events match these filters" in empty


def test_older_events_are_a_click_away(client, projects):
    client.force_login(auditor())
    for number in range(PAGE_SIZE + 5):
        record_event(action="catalog.loaded", actor=Actor.system("loadcatalog"), payload={"n": number})
    newest_first = list(AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True))

    first = client.get(EVENTS).content.decode()
    assert shown(first) == newest_first[:PAGE_SIZE]
    older = client.get(EVENTS, {"before": newest_first[PAGE_SIZE - 1]}).content.decode()
    assert shown(older) == newest_first[PAGE_SIZE:]
    assert f"before={newest_first[PAGE_SIZE - 1]}" in first and "Older" not in older.split("← Newest")[1]


@pytest.mark.parametrize("cursor", ["²", "abc", "-1", "9" * 30])
def test_a_cursor_that_is_not_a_sequence_number_starts_from_the_newest_event(client, projects, cursor):
    client.force_login(auditor())
    record_event(action="catalog.loaded", actor=Actor.system("loadcatalog"), payload={})
    newest = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()

    response = client.get(EVENTS, {"before": cursor})

    assert response.status_code == 200
    assert shown(response.content.decode())[0] == newest


def test_a_filter_change_through_htmx_answers_with_the_rows_alone(client, projects):
    client.force_login(auditor())

    response = client.get(EVENTS, {"action": "policy.revised"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<tbody id="event-rows">') and "<h1>" not in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.APPROVER])
def test_members_who_may_not_audit_are_refused_and_the_refusal_is_recorded(client, projects, role):
    client.force_login(make_member(projects[0], role))

    response = client.get(EVENTS)

    assert response.status_code == 403
    assert "The audit pages are not open to you" in response.content.decode()
    assert AuditEvent.objects.order_by("-sequence").first().payload["path"] == EVENTS


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(EVENTS)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_events_target_is_named_as_people_name_it(client, projects):
    client.force_login(auditor())
    make_api_key(make_environment(projects[0], "staging"))
    key = ApiKey.objects.get()

    page = client.get(EVENTS, {"action": "api_key.created"}).content.decode()

    assert f'<span title="projects.apikey">API key {key.pk}</span>' in page
