"""No page, fragment, download or export shows a project's records to someone outside it.

Every dashboard URL pattern is read (as a page and as the htmx fragment) with the first
project's ids and filters, both under its own slug and under the reader's project's
slug, by people with no role in it: a signed-in stranger and the admin of another
project. None of the first project's distinctive text (its name, prompts, plan reasons,
evidence, webhook, members' names, key prefix) may appear. Their exports and manifests
are read too.
"""

import re

import pytest
from django.test import Client
from django.urls import get_resolver

from governance.audit.models import AuditEvent
from governance.projects.models import ApiKey
from tests.authorization import two_projects
from tests.authorization.test_url_permissions import walk
from tests.authorization.two_projects import MARK

pytestmark = pytest.mark.django_db

OUTSIDERS = ("stranger", "rival_admin")


@pytest.fixture
def world(db):
    return two_projects.build()


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    return headers + "\n" + content.decode(errors="replace")


def paths_to_read(world) -> list[str]:
    """Every pattern of the dashboard with the first project's ids, under its slug and under the reader's own."""
    values = {
        "video_id": world.video_id,
        "plan_id": world.ids["in_review"],
        "step_id": world.ids["in_review_step"],
        "pair_id": world.ids["pair"],
        "key_id": world.ids["key"],
        "membership_id": world.ids["viewer_membership"],
        "webhook_id": world.ids["webhook"],
        "snapshot_id": world.ids["unreviewed_snapshot"],
        "environment_name": "development",
        "variant": "video",
        "action": "submit",
        "kind": "audit",
        "export_id": "exp_missing",
        "environment": "development",
        "username": "nobody",
        "number": 1,
        "file_id": 1,
        "token_id": 1,
        "token": "unsigned",
    }
    query = f"?project=shop&environment={world.ids['development']}&q=lighthouse&from=1&to=2"
    paths = []
    for endpoint in walk(get_resolver()):
        if endpoint.key.startswith(("admin:", "generations:", "simulator", "operations:")):
            continue
        for slug in ("shop", "rival"):
            filled = {**values, "project_slug": slug, "project": slug}
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda match, filled=filled: str(filled[match.group(1)]), endpoint.route)
            paths.append("/" + path + query)
    return sorted(set(paths))


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_no_page_or_fragment_shows_another_projects_records(world, outsider):
    client = Client()
    client.force_login(world.users[outsider])
    prefix = ApiKey.objects.get(pk=world.ids["key"]).prefix
    leaks = []
    for path in paths_to_read(world):
        for headers in ({}, {"HX-Request": "true"}):
            text = body_of(client.get(path, headers=headers))
            if MARK in text or prefix in text:
                where = text.find(MARK) if MARK in text else text.find(prefix)
                leaks.append(f"GET {path} {headers}: …{text[max(where - 200, 0) : where + 100]}…")

    assert leaks == [], "\n\n".join(leaks)


def test_another_projects_admin_exports_only_their_own_records(world):
    client = Client()
    client.force_login(world.users["rival_admin"])
    assert AuditEvent.objects.filter(project__slug="shop").exists()

    made = []
    for kind in ("generations", "audit"):
        for file_format in ("csv", "jsonl"):
            response = client.post(f"/audit/export/{kind}/", {f"{kind}-format": file_format})
            assert response.status_code == 200
            made.append(body_of(response))
            manifest = client.get(f"/audit/exports/{response['X-Export-Id']}/manifest.json")
            made.append(body_of(manifest))
        asked_for_ours = client.post(f"/audit/export/{kind}/", {f"{kind}-format": "csv", f"{kind}-project": "shop"})
        assert asked_for_ours.status_code == 400
        made.append(body_of(asked_for_ours))

    everything = "\n".join(made)
    assert "rival" in everything  # the exports did hold the reader's own project
    assert MARK not in everything
    assert world.video_id not in everything
