"""Small helpers shared by the simulator tests."""

import datetime as dt

from governance.simulator.models import SimulatedVideo

OLD = "sora-2-2025-10-06"
NEW = "sora-2-2025-12-08"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
API = "/simulator/v1"


def create(client, headers=None, **fields):
    """POST /videos as JSON with a default prompt."""
    body = {"prompt": "A lighthouse at dawn", **fields}
    return client.post(f"{API}/videos", body, content_type="application/json", headers=headers or {})


def retrieve(client, video_id):
    return client.get(f"{API}/videos/{video_id}")


def assert_openai_error(response, status, code, param=None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["param"] == param
    assert error["message"]
    return error


def created_job_count(*, snapshot: str | None = None) -> int:
    """How many jobs the simulator really accepted (deleted ones included): each is one paid upstream job."""
    jobs = SimulatedVideo.objects.all()
    if snapshot is not None:
        jobs = jobs.filter(model=snapshot)
    return jobs.count()
