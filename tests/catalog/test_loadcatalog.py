import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from governance.audit.models import AuditEvent
from governance.catalog.models import Alias, AliasRepoint, Lifecycle, Provider, Snapshot
from governance.catalog.services import load_pack, read_pack
from tests.factories import NEW, OLD, SYSTEM

pytestmark = pytest.mark.django_db


def test_the_openai_pack_holds_the_real_entries_shut_down_on_2026_09_24():
    call_command("loadcatalog", "openai-sora-2")
    snapshots = Snapshot.objects.filter(provider__slug="openai")
    assert set(snapshots.values_list("name", flat=True)) == {OLD, NEW, "sora-2-pro-2025-10-06"}
    assert set(snapshots.values_list("shutdown_on", flat=True)) == {dt.date(2026, 9, 24)}
    pro = snapshots.get(name="sora-2-pro-2025-10-06")
    assert {"1024x1792", "1792x1024", "1920x1080", "1080x1920"} <= set(pro.sizes)
    for snapshot in snapshots:  # the Videos API's operations, as OpenAI documented them from 2026-03-12
        assert {"image_reference", "remix", "edits", "extensions", "characters"} <= set(snapshot.features)
        assert snapshot.extension_seconds == [4, 8, 12, 16, 20]
    assert pro.lifecycle(dt.datetime(2026, 11, 25, tzinfo=dt.UTC)) == Lifecycle.SHUT_DOWN
    assert pro.lifecycle(dt.datetime(2026, 9, 23, tzinfo=dt.UTC)) == Lifecycle.DEPRECATED
    assert dict(Alias.objects.filter(provider__slug="openai").values_list("name", "snapshot__name")) == {
        "sora-2": NEW,
        "sora-2-pro": "sora-2-pro-2025-10-06",
    }


def test_the_simulator_pack_encodes_the_two_snapshots_differences():
    call_command("loadcatalog", "simulator")
    old = Snapshot.objects.get(provider__slug="simulator", name=OLD)
    new = Snapshot.objects.get(provider__slug="simulator", name=NEW)
    assert old.seconds == [4, 8, 10, 12, 15, 20] and new.seconds == [*old.seconds, 25]
    assert "character_cameos" not in old.features and "storyboards" not in old.features
    assert {"character_cameos", "storyboards", "style_fine_tuning"} <= set(new.features)
    assert old.lifecycle() == Lifecycle.ACTIVE


def test_loading_twice_changes_nothing_and_writes_no_second_event():
    call_command("loadcatalog", "simulator")
    events, repoints = AuditEvent.objects.count(), AliasRepoint.objects.count()
    call_command("loadcatalog", "simulator")
    assert AuditEvent.objects.count() == events
    assert AliasRepoint.objects.count() == repoints == 2  # sora-2 and sora-2-pro, each set once


def test_a_moved_alias_is_recorded_in_its_history_and_audited():
    pack = read_pack("simulator")
    load_pack(pack, actor=SYSTEM)
    pack["aliases"]["sora-2"] = OLD
    load_pack(pack, actor=SYSTEM)
    latest = AliasRepoint.objects.first()
    assert (latest.from_snapshot.name, latest.to_snapshot.name) == (NEW, OLD)
    event = AuditEvent.objects.filter(action="alias.repointed").last()
    assert event.payload["from"] == NEW and event.payload["to"] == OLD


def test_an_unknown_pack_names_the_available_ones():
    with pytest.raises(CommandError, match=r"No catalog pack 'nope'\. Available: .*openai-sora-2, .*simulator"):
        call_command("loadcatalog", "nope")


def test_a_changed_provider_is_audited_with_each_field_from_and_to():
    pack = read_pack("simulator")
    load_pack(pack, actor=SYSTEM)
    pack["provider"] |= {"base_url": "https://videos.example.com/v1", "api_key_env_var": "EXAMPLE_KEY"}
    pack["provider"] |= {"read_timeout": 45.0, "name": "Example videos"}

    load_pack(pack, actor=SYSTEM)

    event = AuditEvent.objects.filter(action="catalog.loaded").last()
    assert event.payload["provider_changed"] == {
        "name": {"from": "Built-in simulator", "to": "Example videos"},
        "base_url": {"from": "builtin:simulator", "to": "https://videos.example.com/v1"},
        "api_key_env_var": {"from": "", "to": "EXAMPLE_KEY"},
        "read_timeout": {"from": 10.0, "to": 45.0},
    }
    assert event.payload["created"] == event.payload["updated"] == []
    assert Provider.objects.get(slug="simulator").base_url == "https://videos.example.com/v1"


def test_a_changed_provider_timeout_alone_writes_an_event():
    pack = read_pack("simulator")
    load_pack(pack, actor=SYSTEM)
    events = AuditEvent.objects.count()
    pack["provider"]["connect_timeout"] = 9.0

    load_pack(pack, actor=SYSTEM)

    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.last()
    assert event.action == "catalog.loaded"
    assert event.payload["provider_changed"] == {"connect_timeout": {"from": 2.0, "to": 9.0}}


def test_a_changed_replacement_is_audited_from_and_to():
    pack = read_pack("simulator")
    load_pack(pack, actor=SYSTEM)
    events = AuditEvent.objects.count()
    pack["snapshots"][0]["replacement"] = NEW

    load_pack(pack, actor=SYSTEM)
    assert Snapshot.objects.get(name=OLD, provider__slug="simulator").replacement.name == NEW
    del pack["snapshots"][0]["replacement"]
    load_pack(pack, actor=SYSTEM)

    loaded = list(AuditEvent.objects.filter(sequence__gt=events).values_list("action", "payload"))
    assert [action for action, _ in loaded] == ["catalog.loaded", "catalog.loaded"]
    assert [payload["replacements"] for _, payload in loaded] == [
        [{"snapshot": OLD, "from": None, "to": NEW}],
        [{"snapshot": OLD, "from": NEW, "to": None}],
    ]
    assert Snapshot.objects.get(name=OLD, provider__slug="simulator").replacement is None
