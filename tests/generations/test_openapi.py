import json
import re

from django.test import Client, RequestFactory
from django.urls import URLPattern, get_resolver, resolve

from governance.generations import views


def documented() -> dict:
    return json.loads(views.OPENAPI_DOCUMENT.read_bytes())


def openapi_path(route: str) -> str:
    return "/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def gateway_patterns() -> list[URLPattern]:
    gateway = next(resolver for resolver in get_resolver().url_patterns if str(resolver.pattern) == "v1/")
    return [pattern for pattern in gateway.url_patterns if pattern.callback is not views.unknown_url]


def test_every_url_pattern_of_the_gateway_is_documented():
    paths = documented()["paths"]
    for pattern in gateway_patterns():
        path = openapi_path(str(pattern.pattern))
        assert path in paths, f"{path} is routed but not in openapi.json"
        methods = getattr(pattern.callback, "allowed_methods", None)
        if methods:
            assert {method.lower() for method in methods} <= set(paths[path]), f"{path}: {methods} not all documented"


def test_every_documented_path_is_routed_to_its_view():
    routed = {openapi_path(str(pattern.pattern)): pattern.callback for pattern in gateway_patterns()}
    for path in documented()["paths"]:
        assert path in routed, f"{path} is documented but not routed"
        assert resolve(re.sub(r"{\w+}", "vid_123", path)).func is routed[path]


def test_every_operation_documents_its_errors_in_openai_shape():
    document = documented()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or path == "/v1/openapi.json":
                continue
            errors = [status for status in operation["responses"] if status.startswith(("4", "5"))]
            assert errors, f"{method} {path} documents no error"
            if operation.get("security") != []:
                assert {"401", "429"} <= set(operation["responses"]), f"{method} {path}"


def test_the_document_is_served_without_a_key_and_is_cacheable():
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "max-age" in response["Cache-Control"]
    assert response.json()["openapi"].startswith("3.1")
    again = Client().get("/v1/openapi.json", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_the_document_refuses_other_methods_in_openai_shape():
    response = Client().post("/v1/openapi.json", {}, content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_head_request_gets_the_documents_length_and_no_body():
    # The view itself, not the test client: the client drops HEAD bodies on its own, servers do not.
    head = views.openapi_document(RequestFactory().head("/v1/openapi.json"))
    get = Client().get("/v1/openapi.json")

    assert head.status_code == 200 and head.content == b""
    assert int(head["Content-Length"]) == len(get.content) and head["ETag"] == get["ETag"]
