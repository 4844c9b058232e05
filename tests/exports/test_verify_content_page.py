"""The Verify content page: auditors and project admins drop a file and learn whether it is ours and intact."""

import io

import httpx
import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from governance.audit.models import AuditEvent
from governance.generations.archive import archive_generation, open_archived
from governance.generations.providers import adapter_for
from governance.policies.models import PolicyRevision
from governance.projects.models import AUDITOR_GROUP, Role
from governance.simulator.rendering import render
from tests.dashboard.builders import make_generation
from tests.factories import NEW, make_environment, make_member, make_project, make_user, simulator_provider
from tests.upstream_transport import use_transport

pytestmark = pytest.mark.django_db

PAGE = reverse("exports:content_verify")


def provider_serving(clip):
    """The provider's content endpoint, outside our system: answers with the rendered clip."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("variant") == "thumbnail":
            return httpx.Response(200, content=clip.thumbnail, headers={"Content-Type": "image/jpeg"})
        return httpx.Response(200, content=clip.video, headers={"Content-Type": "video/mp4"})

    return httpx.MockTransport(answer)


@pytest.fixture
def archived():
    environment = make_environment(make_project("alpha"), "production")
    generation = make_generation(
        environment,
        upstream_id="video_upstream",
        provider=simulator_provider(),
        policy_revision=PolicyRevision.objects.get(environment=environment),
    )
    clip = render(snapshot=NEW, prompt=generation.prompt, seed=0, size="720x1280", seconds=4)
    with use_transport(provider_serving(clip)):
        archive_generation(generation, adapter_for(generation.provider))
    return generation


def delivered_video(generation) -> bytes:
    with open_archived(generation.archived_files.get(variant="video")) as file:
        return file.read()


def auditor():
    user = make_user()
    user.groups.add(Group.objects.get_or_create(name=AUDITOR_GROUP)[0])
    return user


def upload(client, content: bytes, name: str = "video.mp4", **headers):
    return client.post(PAGE, {"file": SimpleUploadedFile(name, content)}, **headers)


def test_an_auditor_sees_an_intact_file_matched_to_its_generation(client, archived):
    client.force_login(auditor())
    response = upload(client, delivered_video(archived))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Intact and signed by a certificate our CA issued" in text
    assert archived.video_id in text and "trainedAlgorithmicMedia" in text and "resolved_snapshot" in text


def test_a_tampered_file_is_reported_as_tampering(client, archived):
    client.force_login(auditor())
    content = bytearray(delivered_video(archived))
    content[len(content) // 2] ^= 0xFF
    response = upload(client, bytes(content), HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert response.status_code == 200 and "<h1>" not in text  # the partial only
    assert "Tampering: the file was changed after it was signed" in text


def test_an_admin_of_another_project_is_not_shown_the_generation(client, archived):
    client.force_login(make_member(make_project("beta"), Role.ADMIN))
    text = upload(client, delivered_video(archived)).content.decode()
    assert "a project you do not administer" in text
    assert f'href="/generations/{archived.video_id}/"' not in text


def test_a_developer_may_not_use_the_page(client, archived):
    client.force_login(make_member(archived.project, Role.DEVELOPER))
    assert upload(client, delivered_video(archived)).status_code == 403


def test_a_missing_file_is_a_readable_400(client):
    client.force_login(auditor())
    response = client.post(PAGE, {})
    assert response.status_code == 400 and "This field is required" in response.content.decode()


def test_an_image_that_is_not_ours_matches_nothing(client, archived):
    client.force_login(auditor())
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(picture, "PNG")
    text = upload(client, picture.getvalue(), "green.png").content.decode()
    assert "no generation in our log matches it" in text


def test_a_project_admin_switches_signing_off_and_it_is_audited(client):
    project = make_project("gamma")
    environment = make_environment(project, "staging")
    client.force_login(make_member(project, Role.ADMIN))
    url = reverse("dashboard:content_credentials", args=[project.slug, "staging"])
    response = client.post(url, {"prompt_in_credentials": "on"})
    assert response.status_code == 302
    environment.refresh_from_db()
    assert (environment.sign_content, environment.prompt_in_credentials) == (False, False)
    event = AuditEvent.objects.get(action="environment.content_credentials_changed")
    assert event.payload["to"] == {"sign_content": False, "prompt_in_credentials": False}
    page = client.get(reverse("dashboard:project_detail", args=[project.slug])).content.decode()
    assert "Signing is off" in page


def test_the_generation_page_says_whether_and_with_which_certificate_each_file_was_signed(client, archived):
    client.force_login(auditor())
    text = client.get(reverse("dashboard:generation_detail", args=[archived.video_id])).content.decode()
    fingerprint = archived.archived_files.get(variant="video").certificate_fingerprint
    assert "Archived files and their Content Credentials" in text
    assert text.count(f'signed, certificate SHA-256 <code class="hash">{fingerprint}</code>') == 2
