"""Prometheus metrics in a registry of the app's own (not the process-global one), so several
apps in one process — tests, embedding — never clash over metric names."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..models import Answer, DocumentInfo

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, documents: Callable[[], list[DocumentInfo]]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pa_http_requests",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pa_http_request_duration_seconds",
            "HTTP request latency (until the body is sent)",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "pa_answers",
            "Answers given, by channel (api, openai, ui)",
            ["channel"],
            registry=self.registry,
        )
        self.abstentions = Counter(
            "pa_abstentions",
            "Answers where the assistant abstained for lack of evidence",
            ["channel"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "pa_feedback",
            "Feedback given on answers in the web UI (rating: up = 👍, down = 👎)",
            ["rating"],
            registry=self.registry,
        )
        for rating in ("up", "down"):
            self.feedback.labels(rating)  # both series from the start, at 0
        self._documents = documents
        index_docs = Gauge("pa_index_documents", "Documents in the index", registry=self.registry)
        index_chunks = Gauge("pa_index_chunks", "Chunks in the index", registry=self.registry)
        index_docs.set_function(lambda: len(self._safe_documents()))
        index_chunks.set_function(lambda: sum(d.chunks for d in self._safe_documents()))

    def _safe_documents(self) -> list[DocumentInfo]:
        try:
            return self._documents()
        except Exception:  # noqa: BLE001 - a scrape must never fail while the index is rebuilt
            return []

    def observe_answer(self, answer: Answer, channel: str) -> None:
        self.answers.labels(channel).inc()
        if answer.abstained:
            self.abstentions.labels(channel).inc()

    def observe_feedback(self, rating: str) -> None:
        self.feedback.labels("down" if rating == "down" else "up").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware) so streamed responses pass through untouched.
    Routes are labelled by their template (``/v1/documents/{doc_id:path}``), never the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        root = scope.get("root_path", "")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_label(scope, root)
            method = scope.get("method", "GET")
            if method not in _METHODS:  # a client-chosen token must not mint new series
                method = "OTHER"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _route_label(scope: Scope, root: str) -> str:
    """The matched route's template; under a mount (the UI at ``/ui``) prefixed by the mount path,
    which routing appended to ``root_path``."""
    path = getattr(scope.get("route"), "path", None)
    if path is None:
        return "unmatched"
    mount = scope.get("root_path", "")[len(root) :]
    return f"{mount}{path}" if mount else path
