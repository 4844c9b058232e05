"""One offered_models() answers /v1/models and the playground: what the environment may ask for now."""

import pytest
from django.utils import timezone

from governance.generations.selectors import offered_models
from governance.projects.models import Environment
from tests.factories import NEW, OLD, make_environment

pytestmark = pytest.mark.django_db


def names(environment, **options) -> list[str]:
    return [model.name for model in offered_models(environment.pk, now=timezone.now(), **options)]


def test_allowed_snapshots_come_first_then_the_aliases_that_resolve_here():
    following = make_environment(default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests="follow")

    assert names(following) == [OLD, NEW, "sora-2"]
    assert [model.snapshot.name for model in offered_models(following.pk, now=timezone.now())] == [OLD, NEW, NEW]


def test_a_model_refused_only_for_its_defaults_is_listed_but_not_offered_as_the_playground_submits():
    landscape_only = make_environment(allowed_snapshots=[OLD], allowed_sizes=["1280x720"])

    assert names(landscape_only) == [OLD]  # a client may ask for 1280x720
    assert names(landscape_only, as_submitted=True) == []  # the playground's default size is refused


def test_an_environment_without_a_policy_offers_nothing():
    bare = Environment.objects.create(project=make_environment().project, name="staging")

    assert names(bare) == [] and names(bare, as_submitted=True) == []
