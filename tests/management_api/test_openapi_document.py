"""The OpenAPI document covers every route of the management API, and every route it names exists."""

import re

import jsonschema
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from governance.management_api.views.fallback import unknown_url

PREFIX = "api/v1/"


def document() -> dict:
    return Client().get("/api/v1/openapi.json").json()


def api_routes() -> dict[str, URLPattern]:
    """Every URL pattern under /api/v1/, found by walking the resolver (not from the app's own list)."""
    found = {}

    def walk(entries, prefix):
        for entry in entries:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif route.startswith(PREFIX) and entry.callback is not unknown_url:
                found["/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = entry

    walk(get_resolver().url_patterns, "")
    return found


SAMPLES = {"plan_id": "1", "step_id": "1", "file_id": "1", "number": "1", "project": "shop"}


def test_every_route_under_api_v1_is_in_the_document_with_every_method():
    paths = document()["paths"]
    routes = api_routes()

    assert routes, "no route found under /api/v1/"
    for path, pattern in routes.items():
        assert path in paths, f"{path} is routed but not in the OpenAPI document"
        methods = {method.lower() for method in pattern.callback.operations}
        assert methods == set(paths[path]) - {"parameters"}, f"{path}: routed {methods}, documented {set(paths[path])}"


def test_every_documented_path_is_routed_to_the_operations_it_documents():
    routes = api_routes()
    for path, item in document()["paths"].items():
        assert path in routes, f"{path} is documented but not routed"
        concrete = re.sub(r"{(\w+)}", lambda m: SAMPLES.get(m.group(1), "development"), path)
        view = resolve(concrete).func
        assert view is routes[path].callback, f"{concrete} reaches another view"
        assert {m for m in item if m != "parameters"} == {m.lower() for m in view.operations}


def test_the_document_is_openapi_3_1_with_valid_schemas_and_documented_errors():
    described = document()
    assert described["openapi"] == "3.1.0"
    for schema in described["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for path, item in described["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "405" in responses, f"{method} {path}"
            if operation.get("security") != []:
                assert "401" in responses, f"{method} {path} documents no 401"
            for status, answer in responses.items():
                if status.startswith("4"):
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_document_is_public_and_cacheable():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "max-age" in response["Cache-Control"]
    again = Client().get("/api/v1/openapi.json", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_an_unknown_path_is_a_404_in_the_error_shape():
    response = Client().get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"
