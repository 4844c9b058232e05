from django.urls import path

from governance.management_api import account_views

app_name = "access_tokens"

urlpatterns = [
    path("", account_views.tokens, name="tokens"),
    path("<int:token_id>/revoke/", account_views.revoke, name="revoke"),
]
