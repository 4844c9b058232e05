import datetime as dt

import httpx
import pytest
from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.generations.models import ArchivedFile, Generation
from tests.dashboard.builders import make_generation
from tests.factories import NEW, Decimal, make_environment, make_member, make_project, make_user, revise
from tests.upstream_transport import use_transport

pytestmark = pytest.mark.django_db


@pytest.fixture
def environment():
    return make_environment(make_project("video-app"), "staging", canary_snapshot=NEW, canary_percent=10)


@pytest.fixture
def member_client(client, environment):
    client.force_login(make_member(environment.project))
    return client


def detail(client, generation) -> str:
    return client.get(reverse("dashboard:generation_detail", args=[generation.video_id])).content.decode()


def test_detail_shows_what_a_reviewer_needs(member_client, environment):
    created = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    generation = make_generation(
        environment,
        requested_model="sora-2",
        resolved_snapshot=NEW,
        policy_revision=environment.policy_revisions.get(),
        canary_arm="canary",
        parameters={"model": "sora-2", "seconds": "8", "size": "1280x720"},
        seconds=8,
        size="1280x720",
        upstream_id="sim_abc123",
        estimated_cost=Decimal("0.8000"),
        created_at=created,
        completed_at=created + dt.timedelta(seconds=42),
        timeline=[
            {"status": "queued", "at": created.isoformat()},
            {"status": "in_progress", "at": (created + dt.timedelta(seconds=2)).isoformat(), "note": "sent upstream"},
            {"status": "completed", "at": (created + dt.timedelta(seconds=42)).isoformat()},
        ],
    )

    page = detail(member_client, generation)

    assert "<dt>Requested model</dt><dd><code>sora-2</code>" in page
    assert f"<dt>Resolved snapshot</dt><dd><code>{NEW}</code>" in page
    assert "<dt>Policy revision</dt><dd>revision 1</dd>" in page
    assert "<dt>Canary arm</dt><dd>canary</dd>" in page
    assert "<code>sim_abc123</code>" in page
    assert "42.0 s" in page
    assert "$0.8000" in page
    assert "<code>1280x720</code>" in page
    assert "sent upstream" in page
    timeline = page[page.index('id="timeline-heading"') :]
    assert timeline.index(">Queued<") < timeline.index(">In progress<") < timeline.index(">Completed<")
    assert "2026-05-01 10:00:02 UTC" in timeline


def test_detail_of_a_refusal_shows_code_message_and_parameter(member_client, environment):
    generation = make_generation(
        environment,
        status="refused",
        resolved_snapshot="",
        error_code="alias_not_allowed",
        error_message="'sora-2' is a moving alias and this environment refuses alias requests.",
        error_param="model",
    )

    page = detail(member_client, generation)

    assert '<h2 id="error-heading">Refused</h2>' in page
    assert "<code>alias_not_allowed</code>" in page
    assert "is a moving alias" in page
    assert "<dt>Parameter</dt><dd><code>model</code></dd>" in page


def test_detail_is_404_for_another_projects_generation_and_the_refusal_is_audited(member_client):
    stranger = make_generation(make_environment(make_project("other")))
    url = reverse("dashboard:generation_detail", args=[stranger.video_id])
    events_before = AuditEvent.objects.count()

    response = member_client.get(url)

    assert response.status_code == 404
    [refused] = AuditEvent.objects.all()[events_before:]
    assert (refused.action, refused.project.slug, refused.object_id) == ("auth.refused", "other", str(stranger.pk))
    assert refused.actor_label == response.wsgi_request.user.get_username()
    assert refused.payload == {"path": url, "method": "GET", "reason": "not a member of the generation's project"}


def test_detail_is_404_for_an_unknown_video_with_no_event(member_client):
    events_before = AuditEvent.objects.count()

    response = member_client.get(reverse("dashboard:generation_detail", args=["video_missing"]))

    assert response.status_code == 404
    assert AuditEvent.objects.count() == events_before


def test_detail_names_the_deciding_revision_its_reason_and_author(member_client, environment):
    revision = revise(environment, max_seconds=8, reason="cap staging at 8 seconds", created_by=make_user("maria"))
    generation = make_generation(environment, policy_revision=revision)

    page = detail(member_client, generation)

    assert "<dt>Policy revision</dt><dd>revision 2</dd>" in page
    assert "<dt>Revision reason</dt><dd>cap staging at 8 seconds</dd>" in page
    assert "<dt>Revised by</dt><dd>maria on " in page


def test_a_running_generation_polls_its_progress_partial(member_client, environment):
    generation = make_generation(environment, status=Generation.Status.IN_PROGRESS, progress=30)
    url = reverse("dashboard:generation_detail", args=[generation.video_id])

    page = detail(member_client, generation)
    partial = member_client.get(url, headers={"HX-Request": "true"})

    assert f'hx-get="{url}" hx-trigger="every 2s"' in page
    assert partial.content.decode().lstrip().startswith('<section id="live-progress"')
    assert '<progress value="30" max="100"' in partial.content.decode()
    assert "In progress · 30%" in partial.content.decode()


def test_the_progress_poll_refreshes_the_page_once_the_generation_is_finished(member_client, environment):
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_1")
    url = reverse("dashboard:generation_detail", args=[generation.video_id])

    partial = member_client.get(url, headers={"HX-Request": "true"})
    page = detail(member_client, generation)

    assert partial["HX-Refresh"] == "true"
    assert "hx-trigger" not in page
    assert '<progress value="100" max="100"' in page


def test_a_completed_generation_shows_its_video_and_thumbnail(member_client, environment):
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_1")
    video = reverse("dashboard:generation_content", args=[generation.video_id, "video"])
    thumbnail = reverse("dashboard:generation_content", args=[generation.video_id, "thumbnail"])

    page = detail(member_client, generation)

    assert f'<source src="{video}" type="video/mp4">' in page
    assert f'poster="{thumbnail}"' in page
    assert f'<img src="{thumbnail}" alt="Thumbnail of {generation.video_id}"' in page


def test_an_unfinished_generation_has_no_video_yet(member_client, environment):
    generation = make_generation(environment, status=Generation.Status.QUEUED)

    assert "<video" not in detail(member_client, generation)


class StandInProvider:
    """A provider over HTTP that serves `/videos/{id}/content`, or fails as told: the dashboard's upstream."""

    def __init__(self, body: bytes, content_type: str):
        self.body, self.content_type, self.opened = body, content_type, []
        self.failure: Exception | httpx.Response | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        upstream_id = request.url.path.split("/videos/")[1].removesuffix("/content")
        self.opened.append((upstream_id, request.url.params["variant"]))
        if isinstance(self.failure, Exception):
            raise self.failure
        if self.failure is not None:
            return self.failure
        return httpx.Response(200, content=self.body, headers={"Content-Type": self.content_type})


@pytest.fixture
def upstream():
    provider = StandInProvider(b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    with use_transport(httpx.MockTransport(provider)):
        yield provider


def test_the_video_streams_from_the_provider_for_a_member(member_client, environment, upstream):
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_42")

    response = member_client.get(reverse("dashboard:generation_content", args=[generation.video_id, "video"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == b"\x00\x00\x00\x18ftypmp42"
    assert upstream.opened == [("sim_42", "video")]


def test_a_downloaded_video_is_named_after_its_generation(member_client, environment, upstream):
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_43")

    video = member_client.get(reverse("dashboard:generation_content", args=[generation.video_id, "video"]))
    upstream.content_type = "image/webp"
    thumbnail = member_client.get(reverse("dashboard:generation_content", args=[generation.video_id, "thumbnail"]))

    assert video["Content-Disposition"] == f'inline; filename="{generation.video_id}.mp4"'
    assert thumbnail["Content-Disposition"] == f'inline; filename="{generation.video_id}.webp"'


def test_content_of_another_projects_generation_is_404_and_audited(member_client, upstream):
    stranger = make_generation(make_environment(make_project("other")), upstream_id="sim_9")

    response = member_client.get(reverse("dashboard:generation_content", args=[stranger.video_id, "video"]))

    assert response.status_code == 404
    assert upstream.opened == []
    assert AuditEvent.objects.filter(action="auth.refused", object_id=str(stranger.pk)).exists()


def test_content_before_completion_or_of_an_unknown_variant_is_404(member_client, environment, upstream):
    running = make_generation(environment, status=Generation.Status.IN_PROGRESS, upstream_id="sim_1")
    done = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_2")

    not_ready = member_client.get(reverse("dashboard:generation_content", args=[running.video_id, "video"]))
    unknown = member_client.get(reverse("dashboard:generation_content", args=[done.video_id, "spritesheet"]))

    assert (not_ready.status_code, unknown.status_code) == (404, 404)
    assert upstream.opened == []


def test_a_provider_failure_is_a_readable_502(member_client, environment, upstream):
    upstream.failure = httpx.ConnectError("connection refused")
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_3")

    response = member_client.get(reverse("dashboard:generation_content", args=[generation.video_id, "thumbnail"]))

    assert response.status_code == 502
    assert "could not deliver this thumbnail: The provider could not be reached: connection refused" in (
        response.content.decode()
    )


def test_an_archived_file_missing_from_the_archive_is_a_readable_500(member_client, environment, upstream):
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_5")
    ArchivedFile.objects.create(
        generation=generation,
        variant="video",
        name=f"{generation.video_id}/gone.mp4",
        size=10,
        sha256="0" * 64,
        upstream_size=10,
    )

    response = member_client.get(reverse("dashboard:generation_content", args=[generation.video_id, "video"]))

    assert response.status_code == 500
    assert response.content.decode() == "The archived video is missing from the archive."
    assert upstream.opened == []  # not passed off to the provider


def test_a_providers_error_text_is_never_rendered_as_html(member_client, environment, upstream):
    upstream.failure = httpx.Response(500, json={"error": {"message": "<img src=x onerror=alert(1)>"}})
    generation = make_generation(environment, status=Generation.Status.COMPLETED, upstream_id="sim_4")

    response = member_client.get(reverse("dashboard:generation_content", args=[generation.video_id, "video"]))

    assert response.status_code == 502 and response["Content-Type"] == "text/plain; charset=utf-8"


def test_as_received_shows_nested_values_readably_never_as_python(member_client, environment):
    sha256 = "ab" * 32
    generation = make_generation(
        environment,
        operation="edit",
        parameters={
            "prompt": "make it snow",
            "video": {
                "filename": "clip.mp4",
                "content_type": "video/mp4",
                "bytes": 12463,
                "sha256": sha256,
                "dimensions": [720, 1280],
                "duration_seconds": 4.0,
            },
            "characters": [{"id": "char_1"}, {"id": "char_2"}],
            "style": ["noir", "grainy"],
            "loop": True,
        },
    )

    page = detail(member_client, generation)

    received = page.split("<h3>As received</h3>")[1].split("</table>")[0]
    assert "{'" not in received and "['" not in received and "True" not in received
    video = received.split("<code>video</code>")[1].split("</tr>")[0]
    assert "<dt>Name</dt><dd><code>clip.mp4</code></dd>" in video
    assert "<dt>Type</dt><dd><code>video/mp4</code></dd>" in video
    assert "<dt>Size</dt><dd>12.2\xa0KB</dd>" in video
    assert "<dt>Dimensions</dt><dd>720 × 1280</dd>" in video
    assert "<dt>Duration</dt><dd>4.0 s</dd>" in video
    assert f'<dt>SHA-256</dt><dd><code class="hash">{sha256}</code></dd>' in video
    assert "<dt>id</dt><dd><code>char_2</code></dd>" in received.split("<code>characters</code>")[1]
    assert "<code>noir</code>, <code>grainy</code>" in received
    assert "<code>true</code>" in received


def test_a_video_the_client_deleted_before_it_finished_is_neither_failed_nor_decided_by_policy(
    member_client, environment
):
    created = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    generation = make_generation(
        environment,
        status="failed",
        policy_revision=environment.policy_revisions.get(),
        error_code=Generation.DELETED_BY_CLIENT,
        error_message="The client deleted this video before it finished.",
        created_at=created,
        deleted_at=created + dt.timedelta(seconds=5),
        completed_at=created + dt.timedelta(seconds=6),
        timeline=[
            {"status": "queued", "at": created.isoformat()},
            {"status": "deleted", "at": (created + dt.timedelta(seconds=5)).isoformat()},
            {"status": "failed", "at": (created + dt.timedelta(seconds=6)).isoformat(), "note": "deleted"},
        ],
    )

    page = detail(member_client, generation)

    assert '<span class="status status-deleted">Deleted by the client before it finished</span>' in page
    assert "alert-danger" not in page and "Decided by" not in page and "Failed" not in page
    assert "The client deleted this video before it finished" in page
    timeline = page[page.index('id="timeline-heading"') :]
    assert timeline.index(">Deleted by the client<") < timeline.index('status-deleted">Stopped<')


def test_the_pages_first_line_says_the_operation_and_its_source(member_client, environment):
    original = make_generation(environment)
    extension = make_generation(environment, operation="extend", remixed_from=original)

    summary = detail(member_client, extension).split('<p class="generation-summary">')[1].split("</p>")[0]

    assert '<span class="tag tag-operation">Extension</span>' in summary
    source_link = reverse("dashboard:generation_detail", args=[original.video_id])
    assert f'from <a href="{source_link}"><code>{original.video_id}</code></a>' in summary


def test_a_request_refused_while_it_was_read_is_not_said_to_have_sent_only_a_prompt(member_client, environment):
    refused = make_generation(
        environment,
        status=Generation.Status.REFUSED,
        resolved_snapshot="",
        parameters={},
        error_code="invalid_value",
        error_message="Invalid value: 'huge'. Supported sizes are 720x1280, 1280x720.",
    )

    page = member_client.get(reverse("dashboard:generation_detail", args=[refused.video_id])).content.decode()

    assert "Only the prompt was sent" not in page
    assert "refused while it was being read" in " ".join(page.split())
