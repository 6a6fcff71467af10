"""``create_app()``: one FastAPI app with the JSON API, the OpenAI-compatible endpoint, health and
metrics, the WeChat callbacks (when that package is present) and the Gradio UI at ``/ui``.

``policy-assistant serve`` runs it with uvicorn; ``uvicorn --factory assistant.api.app:create_app``
does the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import Future
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount

from ..config import Settings, get_settings
from ..errors import AssistantError
from ..service import Assistant
from . import handlers
from .deferred_ui import DeferredUI
from .deps import Workers, openai_keys
from .limits import BodyLimitMiddleware, RefusalPacing, UploadGuard, body_limits
from .metrics import Metrics, MetricsMiddleware
from .openapi import drop_unenforced_security
from .routes import ask, documents, feedback, health, openai, targets
from .throttle import AuthThrottle, RefusalPacer

log = logging.getLogger("assistant.api")
UI_PATH = "/ui"

DESCRIPTION = """威海科技政策问答助手：基于已收录政策文件的问答，每个回答都注明出处；文件中没有依据时如实说明。

- `POST /v1/ask` 提问 · `POST /v1/search` 检索 · `/v1/documents` 文档管理（上传、删除需管理密钥）
- `POST /v1/chat/completions` OpenAI 兼容接口（模型 `policy-assistant`），可接入各类机器人框架
- `GET /v1/targets` 指标台账（`?format=csv` 导出 CSV）
- 网页界面：[/ui](/ui)
"""


def _warm_up(assistant: Assistant) -> None:
    """Open the index, load the embedder, jieba, the pinyin tables and the targets ledger now,
    so the first user (and WeChat's 5-second budget) does not pay for them."""
    try:
        assistant.search("科技创新")
        assistant.ask("科技创新的目标是多少？")
    except AssistantError as exc:
        log.warning("索引尚不可用：%s", exc)


def _worker_slots(settings: Settings) -> int:
    """Extractive answering is CPU-bound: one slot per core keeps throughput at the sequential
    rate (measured: 8 clients on 2 cores finished ~40 % fewer requests/s with no limit). An LLM
    answer mostly waits on the network, so then many may run at once."""
    return 32 if settings.llm_enabled else max(os.cpu_count() or 2, 2)


def warm_up_early(assistant: Assistant) -> Future:
    """Start the warm-up now, in a thread, so that it overlaps importing Gradio and building
    the UI (the index's I/O, Chroma's and onnxruntime's native code run beside them); pass the
    future to ``create_app(warming=…)``, whose startup waits for it (and fails as it fails)."""
    future: Future = Future()

    def run() -> None:
        try:
            _warm_up(assistant)
        except BaseException as exc:  # reaches the app's startup, as an inline warm-up would
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=run, name="warm-up", daemon=True).start()
    return future


def create_app(
    settings: Settings | None = None,
    assistant: Assistant | None = None,
    warming: Future | None = None,
    defer_ui: bool = False,
) -> FastAPI:
    """The whole service. ``defer_ui`` (``serve``): the UI is built after the start, so the
    API is healthy without waiting for Gradio (see ``deferred_ui``); otherwise the UI is built
    here and the app is complete when this returns."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no calls home
    settings = settings or (assistant.settings if assistant else get_settings())
    assistant = assistant or Assistant(settings)
    metrics = Metrics(assistant.documents)
    deferred = DeferredUI(UI_PATH) if defer_ui else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warming is not None:  # started before the app was built: wait for it to finish
            await asyncio.wrap_future(warming)
        else:
            await run_in_threadpool(_warm_up, assistant)
        if deferred is not None:  # after the warm-up: the two would only share the cores
            deferred.start(app, lambda: _mount_ui(app, assistant, settings, metrics, throttle))
        try:
            yield
        finally:
            if deferred is not None:
                await deferred.stop()

    app = FastAPI(
        title="威海科技政策问答助手",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.settings = settings
    app.state.assistant = assistant
    app.state.metrics = metrics
    app.state.ui = deferred
    app.state.workers = Workers(_worker_slots(settings))
    throttle = AuthThrottle(settings.auth_max_failures, settings.auth_window_s)
    app.state.auth_throttle = throttle
    # Innermost first: the body cap, the pacing of refusals (its 413s too), then the upload
    # guard (key before size), then CORS — a parent CORSMiddleware also makes Gradio drop its
    # own, which reflects localhost origins with credentials — and the metrics outermost, so
    # refused requests are counted too.
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limits(settings, UI_PATH))
    app.state.refusal_pacer = RefusalPacer(settings.refusals_per_s)
    app.add_middleware(RefusalPacing, pacer=app.state.refusal_pacer)
    app.add_middleware(UploadGuard, settings=settings, throttle=throttle, ui_path=UI_PATH)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=_origins(settings),
        allow_credentials=True,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    handlers.install(app)

    app.include_router(ask.router)
    app.include_router(documents.router)
    app.include_router(openai.router)
    app.include_router(health.router)
    app.include_router(targets.router)  # /v1/targets (指标台账)
    app.include_router(feedback.router)  # /v1/feedback (the UI's 👍/👎, admin key)

    try:
        from ..wechat import build_router
    except ImportError:  # the WeChat adapter is optional until it lands
        pass
    else:
        app.include_router(build_router(lambda: app.state.assistant, settings))

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> RedirectResponse:
        query = request.url.query  # "/?q=…" keeps its question on the way to the UI
        return RedirectResponse("ui/" + (f"?{query}" if query else ""))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    if deferred is not None:
        app.router.routes.append(deferred.route)  # before the UI's routes, until it is ready
    else:
        _mount_ui(app, assistant, settings, metrics, throttle)
    _document_openapi(app, settings)
    return app


def _mount_ui(app: FastAPI, assistant: Assistant, settings: Settings, metrics, throttle):
    """Mount the Gradio UI at ``UI_PATH``; returns its Gradio app."""
    from ui.app import mount_ui  # gradio imports slowly; only the serving process needs it

    mount_ui(app, assistant, settings, path=UI_PATH, metrics=metrics, throttle=throttle)
    for route in app.router.routes:
        if (
            isinstance(route, Mount)
            and route.path == UI_PATH
            and route is not getattr(app.state.ui, "route", None)
        ):
            return getattr(route.app, "app", route.app)  # inside the index-page middleware
    raise RuntimeError("the UI mount is missing")


def _document_openapi(app: FastAPI, settings: Settings) -> None:
    """The generated document, less the bearer scheme on the OpenAI routes when no
    ``PA_OPENAI_KEYS`` are set (they take any key then, or none)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            if not openai_keys(settings):
                schema = drop_unenforced_security(schema, handlers.OPENAI_PATHS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _origins(settings: Settings) -> list[str]:
    return [o.strip().rstrip("/") for o in (settings.cors_origins or "").split(",") if o.strip()]
