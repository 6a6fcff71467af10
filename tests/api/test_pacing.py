"""Refusals are paced and answers are not: past a burst, a request refused for what it carries
waits its turn (``PA_REFUSALS_PER_S``) and is still answered in the documented shape, while a
question sent meanwhile is answered without waiting behind it. No dependency of a route runs in
the thread pool, so a refused request never takes a worker thread."""

from __future__ import annotations

import inspect
import threading
import time

import httpx
import pytest
from fastapi.routing import APIRoute

from assistant.api.throttle import RefusalPacer
from tests.api.live_server import LiveServer
from tests.conftest import free_port

SURROGATE = b'{"question": "\\ud800\xe9\xb2\x81\xe7\xa7\x91\xe8\xb4\xb7"}'  # "\ud800鲁科贷"
JSON = {"content-type": "application/json"}
LUKEDAI = "今年计划给多少家企业发放鲁科贷？"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_refusals_passes_then_each_waits_one_interval_more():
    clock = Clock()
    pacer = RefusalPacer(rate=10, burst=3, clock=clock)
    assert [pacer.reserve() for _ in range(3)] == [0, 0, 0]
    assert pacer.reserve() == pytest.approx(0.1)
    assert pacer.reserve() == pytest.approx(0.2)
    clock.now += 1.0  # a quiet second: the burst is back
    assert [pacer.reserve() for _ in range(3)] == [0, 0, 0]
    assert pacer.reserve() == pytest.approx(0.1)


def test_the_default_burst_is_two_seconds_of_refusals():
    pacer = RefusalPacer(rate=50, clock=Clock())
    assert [pacer.reserve() for _ in range(100)] == [0] * 100
    assert pacer.reserve() > 0


def test_past_max_waiting_a_refusal_is_sent_at_once_without_taking_a_turn():
    pacer = RefusalPacer(rate=1, burst=1, max_waiting=2, clock=Clock())
    assert pacer.reserve() == 0
    pacer.waiting = 2
    assert pacer.reserve() == 0
    pacer.waiting = 0
    assert pacer.reserve() == pytest.approx(1.0)  # the refusal sent at once took no turn


def _coroutine(call) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - security schemes are async callables
    )


def _dependency_calls(dependant):
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def test_no_route_dependency_runs_in_the_thread_pool(api_server):
    """A plain ``def`` dependency is a hop to a worker thread and back, before the body is even
    validated: refused requests took worker threads, and under load each hop cost a normal
    question a GIL hand-over."""
    routes = [r for r in api_server.app.routes if isinstance(r, APIRoute)]
    assert routes
    sync = {
        (route.path, getattr(call, "__name__", repr(call)))
        for route in routes
        for call in _dependency_calls(route.dependant)
        if not _coroutine(call)
    }
    assert not sync


@pytest.fixture(scope="module")
def paced_server(seed_settings, assistant):
    from assistant.api.app import create_app

    # a burst of one, then one refusal every 5 s: long enough to see who waits
    settings = seed_settings.model_copy(update={"refusals_per_s": 0.2})
    with LiveServer(create_app(settings, assistant), free_port()) as server:
        yield server


def test_a_waiting_refusal_keeps_its_answer_and_a_question_does_not_wait_behind_it(paced_server):
    pacer = paced_server.app.state.refusal_pacer
    with httpx.Client(base_url=paced_server.url, timeout=60) as client:
        burst = client.post("/v1/ask", content=b"{" * 10, headers=JSON)  # not JSON: the burst
        assert burst.status_code == 422 and burst.json()["code"] == "invalid_request"

        refused: dict = {}

        def refuse() -> None:
            with httpx.Client(base_url=paced_server.url, timeout=60) as other:
                r = other.post("/v1/ask", content=SURROGATE, headers=JSON)
            refused.update(response=r, at=time.monotonic())

        waiting = threading.Thread(target=refuse)
        waiting.start()
        deadline = time.monotonic() + 30
        while pacer.waiting == 0 and waiting.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pacer.waiting == 1, "the second refusal should wait for its turn"

        ask = client.post("/v1/ask", json={"question": LUKEDAI})
        answered = time.monotonic()
        waiting.join(60)

    assert ask.status_code == 200 and "500家" in ask.json()["answer"]
    assert answered < refused["at"], "the question waited behind a paced refusal"
    r = refused["response"]
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request" and "U+D800" in r.json()["detail"]
