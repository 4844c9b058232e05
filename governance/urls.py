from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from governance.accounts.forms import AdminLoginForm
from governance.accounts.views import SignInView
from governance.generations.callbacks import provider_callback
from governance.lib.converters import ObjectId
from governance.simulator.dialects import DIALECTS

register_converter(ObjectId, "id")  # before the apps' URL patterns that use it
admin.site.login_form = AdminLoginForm  # the admin's sign-in is throttled like the dashboard's

urlpatterns = [
    path("v1/", include("governance.generations.urls")),
    path("api/v1/", include("governance.management_api.urls")),
    path("callbacks/<slug:kind>/<str:token>", provider_callback, name="provider-callback"),
    path("login/", SignInView.as_view(), name="login"),
    path("oidc/", include("governance.sso.urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("inbox/", include("governance.notifications.urls")),
    path("account/tokens/", include("governance.management_api.account_urls")),
    path("", include("governance.operations.urls")),
    path("", include("governance.snapshot_migrations.urls")),
    path("", include("governance.exports.urls")),
    path("", include("governance.catalog.urls")),
    path("", include("governance.lifecycle.urls")),
    path("", include("governance.policies.urls")),
    path("", include("governance.dashboard.urls")),
]

# The simulator's routes go after the two APIs' (a gateway request is matched first) and before the dashboard's.
SIMULATOR_ROUTES_AT = 2
if settings.SIMULATOR_ENABLED:
    urlpatterns.insert(SIMULATOR_ROUTES_AT, path("simulator/v1/", include("governance.simulator.urls")))
    # The simulator's second, made-up provider (Lumen): the same views, its own catalog pack and spellings.
    urlpatterns.insert(
        SIMULATOR_ROUTES_AT,
        path(
            "simulator/lumen/v1/",
            include(("governance.simulator.urls", "simulator"), namespace="simulator-lumen"),
            {"api": "lumen"},
        ),
    )
    # Result links (they expire, as providers' do) and each real provider's dialect at its own origin.
    urlpatterns.insert(SIMULATOR_ROUTES_AT, path("simulator/files/", include("governance.simulator.file_urls")))
    for kind, module in DIALECTS.items():
        dialect = (f"governance.simulator.dialects.{module}", f"simulator-{kind}")
        urlpatterns.insert(
            SIMULATOR_ROUTES_AT, path(f"simulator/{kind}/", include(dialect, namespace=f"simulator-{kind}"))
        )
