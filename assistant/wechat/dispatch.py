"""The 5-second rule and retries.

WeChat waits 5 s for a passive reply, then retries the same message (same MsgId) up to
twice. Each question is answered in a worker thread; the request waits at most the reply
budget. In time → passive reply. Too slow → reply ``success`` and send the answer later with
the send API (or, with no API credentials, ask the user to resend; the answer is kept ready).
A message seen again (a retry) never starts a second computation nor a second delivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import AssistantError
from .compose import FAILED, PENDING, TEXT_ONLY, WELCOME, answer_text, notice_text
from .delivery import Sender
from .messages import Inbound

log = logging.getLogger("assistant.wechat")

REPLY_BUDGET_S = 4.5  # WeChat gives up at 5 s; leave room for the network
DEDUP_TTL_S = 120.0  # WeChat's three attempts span about 15 s
DEDUP_MAX = 10_000
ANSWER_TTL_S = 120.0  # a resent question within this window reuses the computed answer
ANSWER_MAX = 1_000
WORKERS = 4

V = TypeVar("V")


class TTLCache(Generic[V]):
    """A bounded map whose entries expire ``ttl`` seconds after insertion (event-loop only)."""

    def __init__(self, ttl: float, maxsize: int):
        self.ttl = ttl
        self.maxsize = maxsize
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        self._prune()
        item = self._data.get(key)
        return item[1] if item else None

    def put(self, key: str, value: V) -> V:
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        self._prune()
        return value

    def pop(self, key: str) -> None:
        self._data.pop(key, None)

    def _prune(self) -> None:
        now = time.monotonic()
        while self._data:
            key, (deadline, _) = next(iter(self._data.items()))
            if deadline > now and len(self._data) <= self.maxsize:
                break
            del self._data[key]

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class Reply:
    text: str
    ok: bool = True  # False: an error notice, not worth keeping for a resend


@dataclass
class Job:
    """One inbound message: the (possibly shared) computation and how it was answered."""

    future: Future[Reply]
    to_user: str
    deferred: bool = False  # replied `success`; the answer goes out through the send API


def _done(reply: Reply) -> Future[Reply]:
    fut: Future[Reply] = Future()
    fut.set_result(reply)
    return fut


async def _wait(fut: Future, timeout: float) -> bool:
    if fut.done():
        return True
    done, _ = await asyncio.wait({asyncio.wrap_future(fut)}, timeout=max(timeout, 0))
    return bool(done)


class Answerer:
    """Runs ``get_assistant().ask`` in worker threads, one computation per question at a time
    (shared by every message asking it within ``ANSWER_TTL_S``)."""

    def __init__(self, get_assistant: Callable, public_url: str | None):
        self.get_assistant = get_assistant
        self.public_url = public_url
        self.executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="wechat")
        self._recent: TTLCache[Future[Reply]] = TTLCache(ANSWER_TTL_S, ANSWER_MAX)

    def submit(self, question: str) -> Future[Reply]:
        key = question.strip()
        fut = self._recent.get(key)
        if fut is not None and not (fut.done() and not fut.result().ok):
            return fut
        return self._recent.put(key, self.executor.submit(self._answer, question))

    def _answer(self, question: str) -> Reply:
        try:
            answer = self.get_assistant().ask(question)
        except AssistantError as err:  # empty / too long question, index not ready …
            return Reply(notice_text(str(err)), ok=False)
        except Exception:
            log.exception("wechat: answering %r failed", question[:80])
            return Reply(FAILED, ok=False)
        return Reply(answer_text(answer, self.public_url))


class Responder:
    """Answers one endpoint's messages within the reply budget, each message exactly once."""

    def __init__(self, name: str, answerer: Answerer, sender: Sender | None, budget: float):
        self.name = name
        self.answerer = answerer
        self.sender = sender
        self.budget = budget
        self.jobs: TTLCache[Job] = TTLCache(DEDUP_TTL_S, DEDUP_MAX)
        self._tasks: set[asyncio.Task] = set()

    def _start(self, msg: Inbound) -> Future[Reply] | None:
        if msg.msg_type == "text":
            return self.answerer.submit(msg.content)
        if msg.msg_type == "event":
            if msg.event == "subscribe":
                return _done(Reply(WELCOME))
            return None  # unsubscribe, menu clicks, location reports …: nothing to say
        return _done(Reply(TEXT_ONLY))  # image, voice, video, location, link, file …

    async def respond(self, msg: Inbound) -> str | None:
        """The passive reply text, or None to answer ``success`` (nothing, or delivered later)."""
        job = self.jobs.get(msg.dedup_key)
        if job is None:
            fut = self._start(msg)
            if fut is None:
                return None
            job = self.jobs.put(msg.dedup_key, Job(fut, msg.from_user))
        elif job.deferred:
            log.info("%s: retry of %s, answer already on its way", self.name, msg.dedup_key)
            return None
        in_time = await _wait(job.future, self.budget)
        if job.deferred:  # another attempt of this message deferred it while we waited
            return None
        if in_time:
            return job.future.result().text
        if self.sender is None:
            return PENDING
        job.deferred = True
        task = asyncio.get_running_loop().create_task(self._deliver(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    async def _deliver(self, job: Job) -> None:
        reply = await asyncio.wrap_future(job.future)
        try:
            await self.sender.send_text(job.to_user, reply.text)
        except Exception:
            log.exception("%s: could not deliver the answer to %s", self.name, job.to_user)
        else:
            log.info("%s: answer delivered to %s through the send API", self.name, job.to_user)
