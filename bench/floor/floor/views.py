import json

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from floor.models import Submission

SECONDS = {"4", "8", "12"}
_redis: redis.Redis | None = None


def queue() -> redis.Redis:
    """One client (and connection pool) per process, as ours keeps for Celery's publish."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL)
    return _redis


def create_video(request: HttpRequest) -> HttpResponse:
    """Parse the body, commit one row (autocommit: committed before we answer), push one message, answer."""
    if request.method != "POST":
        return JsonResponse({"error": {"message": "POST only"}}, status=405)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": {"message": "the body is not JSON"}}, status=400)
    prompt, model, seconds = body.get("prompt"), body.get("model"), str(body.get("seconds", "4"))
    if not isinstance(prompt, str) or not prompt or not isinstance(model, str) or seconds not in SECONDS:
        return JsonResponse({"error": {"message": "prompt, model and seconds (4, 8, 12) are required"}}, status=400)
    size = body.get("size") or "720x1280"
    row = Submission.objects.create(
        model=model,
        prompt=prompt,
        seconds=int(seconds),
        size=size,
        idempotency_key=request.headers.get("Idempotency-Key", ""),
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    queue().lpush(settings.QUEUE_KEY, json.dumps({"id": row.pk, "video_id": row.video_id}))
    return JsonResponse(
        {
            "id": row.video_id,
            "object": "video",
            "status": row.status,
            "model": model,
            "seconds": seconds,
            "size": size,
            "progress": 0,
            "created_at": int(row.created_at.timestamp()),
        }
    )


def ready(request: HttpRequest) -> HttpResponse:
    """The bench waits for this: the worker is up and has its database connection."""
    connection.ensure_connection()
    return HttpResponse("ok")
