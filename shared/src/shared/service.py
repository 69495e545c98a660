"""The platform every service runs on, and the FastAPI app around it.

`Platform` owns the database engine, the producer, the outbox relay and the
consumers. The object is built by the service's `create_app`; its engine, producer,
relay and consumers are created when the app's lifespan starts it, never at import.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace.export import SpanExporter
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.apidocs import install_docs
from shared.config import ServiceSettings
from shared.db import SessionFactory, create_engine, migrate, ping, session_factory, unit_of_work
from shared.errors import RequestLimits, contain_errors, install_problem_handlers
from shared.group_commit import GroupCommit
from shared.kafka import ConsumerLoop, EventProducer, EventTable, Handler, dispatch, utc_now
from shared.kafka.table import BatchStep
from shared.kafka_security import client_options
from shared.metrics import Metrics
from shared.outbox import Outbox, OutboxRelay
from shared.server_spans import ServerSpans
from shared.tables import MessageTables
from shared.telemetry import trace_statements, tracer_provider

log = logging.getLogger(__name__)


Settings = TypeVar("Settings", bound=ServiceSettings)
Context = TypeVar("Context")


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer: its name, the topics it reads, and the loop's handler for each event.

    A service declares it with `ConsumerSpec.of(name, topics, handlers.EVENTS, context)`;
    `handler` is then `dispatch(table, context)`. Tools and platform tests may give a raw
    handler that sees every event as it is.
    """

    name: str
    topics: Sequence[str]
    handler: Handler
    group_suffix: str = ""
    """A consumer group of its own, `<the service's group>-<suffix>` (still within the
    service's ACL prefix): its offsets kept apart from the service's main consumer's."""
    linger_ms: int = 0
    """How long the broker may hold a fetch to gather more records (0: it answers as soon
    as there is one). For a consumer off the referral's path (records, marac,
    perpetrators): a steady stream is then handled a batch at a time, at a batch's cost
    per event rather than a transaction's, leaving the cores to the path that refers."""

    @classmethod
    def of(
        cls,
        name: str,
        topics: Sequence[str],
        table: EventTable[Context],
        context: Context,
        clock: Callable[[], datetime] = utc_now,
        group_suffix: str = "",
        prepare: BatchStep[Context] | None = None,
        linger_ms: int = 0,
    ) -> ConsumerSpec:
        """A consumer of `topics` that handles the event types of `table`, at `clock()`
        (and, with `prepare`, runs it first on each fetched batch: `BatchHandler`)."""
        handler = dispatch(table, context, clock, prepare)
        return cls(name, topics, handler, group_suffix, linger_ms)


@dataclass
class Platform(Generic[Settings]):
    """Database, producer, outbox relay, consumers and telemetry of one service."""

    name: str
    settings: Settings
    tables: MessageTables
    migrations_dir: Path | MetaData
    """A service's Alembic scripts; or, for tools and tests, the metadata to create as is."""
    exporters: Sequence[SpanExporter] = ()
    consumers: list[ConsumerLoop] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.provider = tracer_provider(self.name, self.exporters)
        self.tracer = self.provider.get_tracer(f"mash.{self.name}")
        self.metrics = Metrics(self.name)
        self.outbox = Outbox(self.tables)
        self.database_url = self.settings.database_url or self.settings.sqlite_default(self.name)
        self._engine: AsyncEngine | None = None
        self._sessions: SessionFactory | None = None
        self._producer: EventProducer | None = None
        self._relay: OutboxRelay | None = None
        self.group_commit = GroupCommit(self.uow)
        """Concurrent requests' writes in one transaction each group (see shared.group_commit)."""

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "platform not started"
        return self._engine

    @property
    def sessions(self) -> SessionFactory:
        assert self._sessions is not None, "platform not started"
        return self._sessions

    @property
    def producer(self) -> EventProducer:
        assert self._producer is not None, "platform not started"
        return self._producer

    @property
    def relay(self) -> OutboxRelay:
        assert self._relay is not None, "platform not started"
        return self._relay

    async def start_storage(self) -> None:
        """Migrate and connect the database (no Kafka)."""
        if isinstance(self.migrations_dir, Path):
            owner = self.settings.migrations_database_url or self.database_url
            await asyncio.to_thread(migrate, owner, self.migrations_dir)
        self._engine = create_engine(self.database_url)
        if isinstance(self.migrations_dir, MetaData):
            async with self._engine.begin() as conn:
                await conn.run_sync(self.migrations_dir.create_all)
        if self.settings.hub.trace_sql:  # off by default: a span per statement costs
            trace_statements(self._engine.sync_engine, self.provider)
        self._sessions = session_factory(self._engine)

    async def start(self, specs: Sequence[ConsumerSpec], *, relay: bool = True) -> None:
        """Start everything: storage, producer, relay, consumers."""
        await self.start_storage()
        platform = self.settings.hub
        security = client_options(self.name, platform)  # its own principal (contract 8)
        self._producer = EventProducer(platform.kafka_bootstrap, f"mash-{self.name}", security)
        await _retry(self._producer.start, "kafka producer")
        self._relay = OutboxRelay(
            self.tables,
            self.sessions,
            self._producer,
            self.metrics,
            self.tracer,
            poll_seconds=self.settings.outbox_poll_seconds,
        )
        if relay:
            self._relay.start()
        group = self.settings.consumer_group or f"mash-{self.name}"
        for spec in specs:
            loop = ConsumerLoop(
                name=spec.name,
                topics=spec.topics,
                group_id=f"{group}-{spec.group_suffix}" if spec.group_suffix else group,
                bootstrap=platform.kafka_bootstrap,
                handler=spec.handler,
                unit_of_work=self.uow,
                tables=self.tables,
                producer=self._producer,
                metrics=self.metrics,
                tracer=self.tracer,
                max_attempts=self.settings.max_attempts,
                offset_reset=self.settings.consumer_offset_reset,
                security=security,
                linger_ms=spec.linger_ms,
            )
            await _retry(loop.start, f"kafka consumer {spec.name}")
            self.consumers.append(loop)

    async def stop(self) -> None:
        await self.group_commit.stop()
        for loop in self.consumers:
            await loop.stop()
        self.consumers.clear()
        if self._relay:
            await self._relay.stop()
        if self._producer:
            await self._producer.stop()
        if self._engine:
            await self._engine.dispose()
        self.provider.force_flush()

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[AsyncSession]:
        """One transaction; the relay is woken once it has committed."""
        async with unit_of_work(self.sessions) as session:
            yield session
        if self._relay:
            self._relay.wake()

    async def readiness(self) -> dict[str, bool]:
        """Each check of `/readyz`; ready when all hold. `outbox_moving` fails when the relay
        has been stuck (failing or hung, with rows waiting) for over a minute: the service
        then takes work it cannot pass on."""
        return {
            "database": self._engine is not None and await ping(self._engine),
            "kafka": self._producer is not None and await self._producer.ping(),
            "outbox_relay": self._relay is not None and self._relay.running,
            "outbox_moving": self._relay is not None and not self._relay.stuck(),
            "consumers": all(loop.running for loop in self.consumers),
        }


async def _retry(start: Any, what: str, attempts: int = 30) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await start()
            return
        except Exception as exc:
            if attempt == attempts:
                raise
            log.warning("%s not reachable (%s); retrying", what, type(exc).__name__)
            await asyncio.sleep(min(2.0, 0.2 * attempt))


async def get_platform(request: Request) -> Platform[Any]:
    platform: Platform[Any] = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform[Any], Depends(get_platform)]


def create_app(
    platform: Platform[Any],
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    consumers: Sequence[ConsumerSpec] = (),
    extra_start: Any = None,
    extra_stop: Any = None,
    untraced: Sequence[str] = (),
) -> FastAPI:
    """A service's FastAPI app: its routers, probes, problem details, metrics and traces."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start(consumers)
        if extra_start:
            await extra_start(platform)
        try:
            yield
        finally:
            if extra_stop:
                await extra_stop(platform)
            await platform.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # no trailing-slash redirects: Starlette builds their absolute Location from the
        # Host header, so anyone could make a service redirect to their own site
        redirect_slashes=False,
    )
    app.state.platform = platform
    app.state.hub_settings = platform.settings.hub
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    app.include_router(_probes())
    install_docs(app, platform.settings.hub.kafka_bootstrap)

    app.add_middleware(RequestMetrics, metrics=platform.metrics)
    app.add_middleware(RequestLimits)
    # one server span a request, named by its route, answering with its `traceresponse`;
    # `untraced`: routes whose address itself is a secret (a one-time sign-in link)
    app.add_middleware(ServerSpans, tracer=platform.tracer, untraced=untraced)
    contain_errors(app)
    return app


class RequestMetrics:
    """Counts requests by method, route and status, and times them by route.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (`@app.middleware`) runs
    every request through a task group and memory streams, a cost the profile showed."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        """Each label set's counter and histogram, looked up once (`labels()` takes a lock
        and builds its key each call); at most `_CHILDREN`, so odd methods cannot grow it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, sending)
        # the router writes the matched route into the shared scope
        route = getattr(scope.get("route"), "path", "unmatched")
        key = (scope["method"], route, str(status))
        children = self._children.get(key)
        if children is None:
            metrics = self.metrics
            children = (metrics.requests.labels(*key), metrics.request_seconds.labels(route))
            if len(self._children) < _CHILDREN:
                self._children[key] = children
        children[0].inc()
        children[1].observe(time.perf_counter() - started)


_CHILDREN = 1024


def _probes() -> APIRouter:
    router = APIRouter(tags=["probes"])

    @router.get("/healthz", summary="Liveness: 200 while the process lives")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz", summary="Readiness: database, Kafka, consumers, and an outbox that moves"
    )
    async def readyz(platform: PlatformDep) -> JSONResponse:
        checks = await platform.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics(platform: PlatformDep) -> Response:
        return Response(platform.metrics.render(), media_type="text/plain; version=0.0.4")

    return router
