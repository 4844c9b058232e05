"""Alerts, the inbox, the generation log and the audit trail through the API, within the token's projects."""

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.auth.models import Group

from governance.catalog.models import Snapshot
from governance.lifecycle.services import raise_shutdown_alerts
from governance.notifications.services import notify
from governance.projects.models import AUDITOR_GROUP, Role
from tests.factories import OLD, make_api_key, make_environment, make_project, make_user
from tests.generations.conftest import Api
from tests.management_api.conftest import api_as, error_of

pytestmark = pytest.mark.django_db


def test_alerts_name_the_environments_that_depend_on_a_snapshot_shutting_down(project, production, people):
    shutdown = dt.date(2027, 6, 1)
    Snapshot.objects.filter(provider__slug="simulator", name=OLD).update(shutdown_on=shutdown)
    with time_machine.travel(dt.datetime(2027, 5, 20, 9, tzinfo=dt.UTC), tick=False):
        raise_shutdown_alerts(email=False)
        alerts = api_as(people[Role.VIEWER]).get("alerts", {"project": "shop"}).json()["data"]

    assert [(a["environment"], a["snapshot"], a["threshold_days"]) for a in alerts] == [("production", OLD, 30)]
    assert alerts[0]["shutdown_on"] == "2027-06-01" and "shuts down within 30 days" in alerts[0]["headline"]


def test_the_inbox_lists_and_marks_read_only_the_users_own_items_of_the_tokens_projects(project, people):
    viewer, other = people[Role.VIEWER], make_project("other")
    notify([viewer], kind="migration", title="Plan approved", project=project)
    notify([viewer], kind="migration", title="Elsewhere", project=other)
    notify([people[Role.ADMIN]], kind="migration", title="Not yours", project=project)
    scoped = api_as(viewer, projects=[project])

    assert [item["title"] for item in scoped.get("inbox").json()["data"]] == ["Plan approved"]
    assert scoped.post("inbox/read", {}).json() == {"marked": 1}
    assert scoped.get("inbox", {"unread": "true"}).json()["data"] == []
    assert [item["title"] for item in api_as(viewer).get("inbox", {"unread": "true"}).json()["data"]] == ["Elsewhere"]


def test_the_generation_log_is_filtered_as_the_log_page_filters_it(project, production, people):
    key = make_api_key(production)
    for model in (OLD, "sora-2"):  # accepted, then refused: production refuses aliases
        Api(key).post("videos", {"prompt": "a lighthouse", "model": model, "seconds": "4"})
    hidden = make_environment(make_project("other"), "production", allowed_snapshots=[OLD])
    Api(make_api_key(hidden)).post("videos", {"prompt": "not yours", "model": OLD, "seconds": "4"})
    api = api_as(people[Role.VIEWER])

    everything = api.get("generations").json()
    assert [(g["project"], g["status"]) for g in everything["data"]] == [("shop", "refused"), ("shop", "queued")]
    refused = api.get("generations", {"status": "refused", "environment": "production"}).json()["data"]
    assert [g["error_code"] for g in refused] == ["alias_not_allowed"]
    first_page = api.get("generations", {"limit": 1}).json()
    older = api.get("generations", {"limit": 1, "before": first_page["next_before"]}).json()
    assert older["data"][0]["status"] == "queued" and older["next_before"] is None
    assert api.get(f"generations/{older['data'][0]['id']}").json()["resolved_snapshot"] == OLD
    assert api.get("generations", {"status": "lost"}).status_code == 400
    assert api.get("generations", {"project": "other"}).status_code == 404


def test_an_audit_export_streams_with_its_manifest_for_a_project_admin(project, production, people):
    api = api_as(people[Role.ADMIN])

    made = api.post("audit/exports", {"kind": "audit", "format": "jsonl", "project": "shop"})

    assert made.status_code == 200 and made["Content-Type"].startswith("application/jsonl")
    lines = b"".join(made.streaming_content).decode().splitlines()
    assert lines and all(json.loads(line) for line in lines)
    manifest = api.get(f"audit/exports/{made['X-Export-Id']}/manifest")
    assert manifest.status_code == 200 and manifest.json()["export_id"] == made["X-Export-Id"]


def test_the_audit_trail_is_for_auditors_and_project_admins_only(project, people):
    other = make_project("other")
    refused = api_as(people[Role.APPROVER]).get("audit/events")
    assert refused.status_code == 403 and error_of(refused)["code"] == "role"
    outside = api_as(people[Role.ADMIN]).post("audit/exports", {"kind": "audit", "format": "csv", "project": "other"})
    assert outside.status_code == 400 and "only the projects you administer" in error_of(outside)["message"]
    auditor = make_user()
    auditor.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    assert api_as(auditor).get("audit/events", {"project": other.slug}).status_code == 200
