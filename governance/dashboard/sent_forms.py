"""Forms whose answer shows a secret once (a new API key, a webhook's signing secret).

The secret is never stored, so the answer to the POST cannot be a redirect: it is the page
itself. Reloading that page makes the browser send the form again, which would silently make
a second key or a second webhook (each event then delivered twice). Every such form carries a
one-time token; the session remembers, per kind of form, which tokens were used and what each
made, so a form sent again makes nothing and the view says what the first sending made.
"""

import secrets

from django.http import HttpRequest

SESSION_KEY = "sent_forms"
REMEMBERED = 20  # tokens kept per session: enough for every tab a person has open


def new_token() -> str:
    return secrets.token_urlsafe(16)


def made_by(request: HttpRequest, kind: str, token: str) -> int | None:
    """The primary key of what this form made when first sent, or None for a form not sent before."""
    if not token:
        return None
    return request.session.get(SESSION_KEY, {}).get(f"{kind}:{token}")


def remember(request: HttpRequest, kind: str, token: str, made_pk: int) -> None:
    if not token:
        return
    sent = request.session.get(SESSION_KEY, {})
    kept = dict(list(sent.items())[-(REMEMBERED - 1) :])
    request.session[SESSION_KEY] = {**kept, f"{kind}:{token}": made_pk}
