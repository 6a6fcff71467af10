"""The OpenAPI document says what the API answers: error bodies with a string ``detail`` (or
OpenAI's ``error`` object), every error status a route returns, the event stream, and no bearer
scheme where none is enforced. ``make fuzz`` checks the responses against it case by case."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def spec(api_server):
    import httpx

    return httpx.get(f"{api_server.url}/openapi.json", timeout=60).json()


def _ref(response: dict, media: str = "application/json") -> str:
    return response["content"][media]["schema"]["$ref"].rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/v1/ask", "post", {"413", "422", "503"}),
        ("/v1/search", "post", {"413", "422", "503"}),
        ("/v1/documents", "post", {"400", "401", "411", "413", "415", "422", "429", "500"}),
        ("/v1/documents/{doc_id}", "delete", {"401", "404", "429", "500"}),
        ("/v1/targets", "get", {"422"}),
    ],
)
def test_error_statuses_are_documented_with_the_string_detail_shape(spec, path, method, statuses):
    responses = spec["paths"][path][method]["responses"]
    assert statuses <= set(responses), sorted(responses)
    for status in statuses:
        assert _ref(responses[status]) == "ErrorBody"
    detail = spec["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert detail["type"] == "string"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_openai_routes_document_their_error_shape_and_the_event_stream(spec):
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    assert {"application/json", "text/event-stream"} <= set(chat["responses"]["200"]["content"])
    assert _ref(chat["responses"]["422"]) == "OpenAIErrorBody"
    assert _ref(chat["responses"]["413"]) == "OpenAIErrorBody"


def test_no_bearer_scheme_is_declared_where_none_is_enforced(spec):
    # the shared test server sets no PA_OPENAI_KEYS: the OpenAI routes take any key, or none
    for path in ("/v1/chat/completions", "/v1/models"):
        for operation in spec["paths"][path].values():
            assert "security" not in operation and "401" not in operation["responses"]
    assert spec["paths"]["/v1/documents"]["post"]["security"]  # the admin key is enforced


def test_a_question_is_documented_as_the_service_checks_it(spec):
    ask = spec["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert ask["minLength"] == 1 and ask["maxLength"] == 2000 and ask["pattern"]
