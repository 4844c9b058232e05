"""A number in a query string that is not ASCII digits ('²' passes str.isdigit) is ignored, never a server error."""

import pytest
from django.urls import reverse

from governance.projects.models import Role
from tests.factories import make_environment, make_member, make_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("page", "parameter"), [("dashboard:playground", "environment"), ("lifecycle:impact", "snapshot")]
)
def test_a_unicode_digit_in_the_query_is_ignored(client, page, parameter):
    project = make_project()
    make_environment(project)
    client.force_login(make_member(project, Role.DEVELOPER))

    response = client.get(reverse(page), {parameter: "²"})

    assert response.status_code == 200
