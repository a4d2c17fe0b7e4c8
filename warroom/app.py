"""App factory: mounts the API routers, the web pages and static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

import warroom
from warroom.alerts.api import router as alerts_router
from warroom.alerts.intake import OPENAPI_PATHS, OPENAPI_SCHEMAS, intake_route, serve_intake
from warroom.analytics.api import metrics_router
from warroom.analytics.api import router as analytics_router
from warroom.analytics.metrics import MetricsMiddleware, instrument_intake
from warroom.auth.api import router as auth_router
from warroom.auth.service import principal_for_token
from warroom.comms.api import router as comms_router
from warroom.config.api import router as config_router
from warroom.core.clock import Clock, SystemClock
from warroom.core.errors import DomainError, TooManyRequests
from warroom.core.text import RefuseBadText
from warroom.db.session import Database
from warroom.engine import readiness
from warroom.heartbeats.api import ping_router as heartbeat_ping_router
from warroom.heartbeats.api import router as heartbeats_router
from warroom.http import RequestGuard
from warroom.incidents.api import router as incidents_router
from warroom.oncall.api import feed_router as oncall_feed_router
from warroom.oncall.api import router as oncall_router
from warroom.org.api import router as org_router
from warroom.paging.api import router as paging_router
from warroom.postmortems.api import items_router as action_items_router
from warroom.postmortems.api import router as postmortems_router
from warroom.settings import ready_max_lag_seconds
from warroom.shifts.api import router as shifts_router
from warroom.slos.api import router as slos_router
from warroom.statuspage.api import router as statuspage_router
from warroom.statuspage.public import StatusPageMiddleware
from warroom.statuspage.public import router as statuspage_public_router
from warroom.triage.api import router as triage_router
from warroom.web.account_pages import router as account_pages_router
from warroom.web.alert_pages import router as alert_pages_router
from warroom.web.analytics_pages import router as analytics_pages_router
from warroom.web.comms_pages import router as comms_pages_router
from warroom.web.headers import SecurityHeaders
from warroom.web.heartbeat_pages import router as heartbeat_pages_router
from warroom.web.oncall_pages import router as oncall_pages_router
from warroom.web.paging_pages import router as paging_pages_router
from warroom.web.postmortem_pages import router as postmortem_pages_router
from warroom.web.routes import STATIC_DIR, WebRedirect
from warroom.web.routes import router as web_router
from warroom.web.slo_pages import router as slo_pages_router
from warroom.web.sso_pages import router as sso_pages_router
from warroom.web.status_admin import router as status_admin_router
from warroom.wiring import wire


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def validation_body(exc: RequestValidationError) -> tuple[int, dict[str, Any]]:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return 400, {"error": f"request body is not valid JSON: {err.get('msg')}"}
        field = _field(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid")
        expected = (err.get("ctx") or {}).get("expected")
        if expected:
            msg += f" (allowed: {expected})"
        errors.append({"field": field, "message": msg})
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    return 422, {
        "error": f"{first['field']}: {first['message']}",
        "field": first["field"],
        "errors": errors,
    }


class WarroomApp(FastAPI):
    """FastAPI, with the alert intake (`warroom.alerts.intake`) answered before the
    framework and its middleware see the request: the storm path."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = intake_route(scope["path"])
            if route is not None:
                serve = partial(serve_intake, self.state, route)
                await instrument_intake(route, serve, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(db: Database, clock: Clock | None = None) -> FastAPI:
    wire()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        ingestor = getattr(app.state, "ingestor", None)
        if ingestor is not None:
            await ingestor.close()

    app = WarroomApp(
        lifespan=lifespan,
        title="warroom",
        version=warroom.__version__,
        description="Incident response: declare, staff, log and resolve incidents.",
    )
    app.state.db = db
    app.state.principal_for_token = principal_for_token
    app.state.clock = clock or SystemClock()

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, body = validation_body(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(WebRedirect)
    async def web_redirect(_: Request, exc: WebRedirect) -> Any:
        return exc.response()

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}  # the process is alive; nothing else is looked at

    app.state.ready_max_lag_seconds = ready_max_lag_seconds()

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        """Ready for traffic: store reachable, migrations current, engine not behind
        (docs/operations.md). 503 names the failing checks. No token needed."""
        state = request.app.state
        result = readiness.check(state.db, state.clock, state.ready_max_lag_seconds)
        return JSONResponse(
            result.to_dict(),
            status_code=200 if result.ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    app.include_router(comms_router)
    app.include_router(incidents_router)
    app.include_router(analytics_router)
    app.include_router(metrics_router)
    app.include_router(analytics_pages_router)
    app.include_router(alerts_router)
    app.include_router(heartbeats_router)
    app.include_router(slos_router)
    app.include_router(triage_router)
    app.include_router(heartbeat_ping_router)
    app.include_router(org_router)
    app.include_router(auth_router)
    app.include_router(config_router)
    app.include_router(comms_pages_router)
    app.include_router(web_router)
    app.include_router(account_pages_router)
    app.include_router(sso_pages_router)
    app.include_router(alert_pages_router)
    app.include_router(heartbeat_pages_router)
    app.include_router(slo_pages_router)
    app.include_router(oncall_router)
    app.include_router(shifts_router)
    app.include_router(oncall_feed_router)
    app.include_router(oncall_pages_router)
    app.include_router(paging_router)
    app.include_router(paging_pages_router)
    app.include_router(postmortem_pages_router)
    app.include_router(postmortems_router)
    app.include_router(action_items_router)
    app.include_router(statuspage_router)
    app.include_router(statuspage_public_router)
    app.include_router(status_admin_router)
    app.add_middleware(StatusPageMiddleware)
    app.add_middleware(RefuseBadText)  # inside the guard: bodies are bounded and callers known
    app.add_middleware(RequestGuard)
    app.add_middleware(SecurityHeaders)  # also on cached status pages
    app.add_middleware(MetricsMiddleware)  # outermost: counts every answer
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema["paths"].update(OPENAPI_PATHS)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(OPENAPI_SCHEMAS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The app of one server process among several (`warroom serve --workers N`): the
    parent has already migrated the store."""
    from warroom.db.session import Database as _Database
    from warroom.settings import Settings

    settings = Settings.from_env()
    app = create_app(_Database(settings.database_url), SystemClock())
    app.state.secure_cookies = settings.secure_cookies
    return app
