from django.contrib import admin

from governance.audit.admin import ReadOnlyAdmin
from governance.catalog.models import Alias, AliasDrift, AliasRepoint, Provider, Snapshot


@admin.register(Provider)
class ProviderAdmin(ReadOnlyAdmin):
    list_display = ["slug", "name", "base_url", "api_key_env_var", "last_synced_at", "last_sync_ok"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ["name", "provider", "family", "released_on", "deprecated_on", "shutdown_on", "reviewed"]
    list_filter = ["provider", "reviewed"]


@admin.register(Alias)
class AliasAdmin(ReadOnlyAdmin):
    list_display = ["name", "provider", "snapshot"]


@admin.register(AliasRepoint)
class AliasRepointAdmin(ReadOnlyAdmin):
    list_display = ["alias", "from_snapshot", "to_snapshot", "repointed_at", "actor_label", "reason"]


@admin.register(AliasDrift)
class AliasDriftAdmin(ReadOnlyAdmin):
    list_display = ["alias", "expected_snapshot", "observed_snapshot", "generation_video_id", "detected_at"]
