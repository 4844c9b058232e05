"""Ending a user's sessions: every browser they are signed in with is signed out at its next request.

Sessions live in the database (Django's default engine), keyed by a random key and holding the
user's id in their signed data, so finding a user's sessions means reading the unexpired ones.
"""

from collections import defaultdict

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from governance.audit.services import Actor, record_event

SESSIONS_ENDED = "user.sessions_ended"


def session_keys_by_user() -> dict[str, list[str]]:
    """The keys of the unexpired sessions, by the id (a string, as sessions keep it) of their signed-in user."""
    keys = defaultdict(list)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        user_id = session.get_decoded().get(SESSION_KEY)
        if user_id is not None:
            keys[str(user_id)].append(session.session_key)
    return dict(keys)


@transaction.atomic
def end_sessions(*, user, reason: str, actor: Actor, session_keys: list[str] | None = None) -> int:
    """Delete the user's sessions (those given, or all of them) and audit it; how many were ended."""
    if session_keys is None:
        session_keys = session_keys_by_user().get(str(user.pk), [])
    ended, _ = Session.objects.filter(session_key__in=session_keys).delete()
    if ended:
        record_event(
            action=SESSIONS_ENDED,
            actor=actor,
            target=user,
            payload={"user": user.get_username(), "sessions": ended, "reason": reason},
        )
    return ended
