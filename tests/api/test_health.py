"""``/healthz``, ``/metrics``, the redirect to the UI, the docs, and the app factory."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings


def _samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_reports_the_index(http):
    r = http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "documents": 1,
        "chunks": r.json()["chunks"],
        "mode": "extractive",
        "ui": "ready",
        "detail": None,
    }
    assert r.json()["chunks"] > 10


def test_metrics_count_requests_latency_abstentions_and_index_size(http):
    def scrape():
        r = http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return _samples(r.text)

    before = scrape()
    http.post("/v1/ask", json={"question": "今年计划给多少家企业发放鲁科贷？"})
    http.post("/v1/ask", json={"question": "创新券的申请截止日期是什么时候？"})
    http.post("/v1/ask", json={"question": " "})
    after = scrape()

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("pa_http_requests_total", method="POST", route="/v1/ask", status="200") == 2
    assert delta("pa_http_requests_total", method="POST", route="/v1/ask", status="422") == 1
    assert delta("pa_http_request_duration_seconds_count", method="POST", route="/v1/ask") == 3
    assert delta("pa_answers_total", channel="api") == 2
    assert delta("pa_abstentions_total", channel="api") == 1
    assert after[("pa_index_documents", ())] == 1
    assert after[("pa_index_chunks", ())] > 10


def test_metrics_label_routes_by_template_not_raw_path(http):
    http.delete("/v1/documents/some-random-id-123")  # 401, but routed
    http.get("/ui/")
    text = http.get("/metrics").text
    assert 'route="/v1/documents/{doc_id:path}"' in text
    assert "some-random-id-123" not in text
    assert 'route="/ui/"' in text


def test_root_redirects_to_the_ui_and_docs_are_served(http):
    r = http.get("/", follow_redirects=False)
    assert r.status_code in (302, 307) and r.headers["location"].endswith("ui/")
    page = http.get("/", follow_redirects=True)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert http.get("/docs").status_code == 200
    paths = http.get("/openapi.json").json()["paths"]
    for p in (
        "/v1/ask",
        "/v1/search",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/models",
        "/v1/chat/completions",
        "/healthz",
        "/metrics",
    ):
        assert p in paths


def test_unknown_route_is_a_chinese_404(http):
    r = http.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["detail"] == "未找到该地址"


def test_two_apps_in_one_process_keep_separate_metrics(api_server, private_server):
    # both servers run in this process; each counts only its own traffic
    httpx.get(private_server.url + "/healthz")
    assert api_server.app.state.metrics.registry is not private_server.app.state.metrics.registry
    text = httpx.get(private_server.url + "/metrics").text
    assert 'route="/healthz"' in text and 'route="/v1/chat/completions"' not in text


def test_healthz_is_503_before_the_index_is_built(tmp_path):
    from fastapi.testclient import TestClient

    from assistant.api.app import create_app

    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "not_ready"
        assert "policy-assistant index" in r.json()["detail"]
        r = client.post("/v1/ask", json={"question": "鲁科贷是什么？"})
        assert r.status_code == 503 and "policy-assistant index" in r.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/search"])
def test_wrong_method_is_405_in_chinese(http, path):
    r = http.get(path)
    assert r.status_code == 405 and r.json()["detail"] == "不支持该请求方法"
