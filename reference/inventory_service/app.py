"""FastAPI application: health, metrics, cached inventory reads, authenticated writes."""
import contextlib
import datetime
import re
import time
from typing import List

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from . import ai_api, auth, backup, db, inventory, training
from .dualwrite import DualWriter
from .cache import ResponseCache, make_backend
from .config import Settings, ensure_layout
from .logs import ServiceLogs
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .txlog import TransactionLog


class Service:
    """Everything one app instance owns; routes reach it through request.app.state.service."""

    def __init__(self, settings: Settings, console_logs=False):
        self.settings = settings
        ensure_layout(settings)
        db.init_db(settings.database_path)
        self.metrics = Metrics(settings.service_version)
        self.logs = ServiceLogs(settings.log_dir, console=console_logs)
        self.cache = ResponseCache(make_backend(settings.redis_url), settings.redis_ttl_inventory,
                                   metrics=self.metrics, on_error=self._cache_error,
                                   ttls={"inventory": settings.redis_ttl_inventory,
                                         "forecasts": settings.redis_ttl_forecasts})
        self.txlog = TransactionLog(settings.transaction_log_path)
        self.dual_writer = None
        if settings.dual_write_enabled and settings.postgres_dsn:
            self.dual_writer = DualWriter(settings.postgres_dsn, settings.database_path, self.metrics,
                                          self.logs.application)

    def _cache_error(self, exc):
        self.logs.application.warning("cache unavailable, serving from database: %s", exc)

    def probe(self):
        components = {
            "database": db.sqlite_ok(self.settings.database_path),
            "cache": self.cache.backend.ping(),
        }
        if self.settings.postgres_dsn:
            components["postgres"] = db.postgres_ok(self.settings.postgres_dsn)
        for name, up in components.items():
            self.metrics.health.labels(component=name).set(1 if up else 0)
        return components

    def read(self, request, key, operation, query):
        """A cached read. X-Cache says HIT or MISS; `Cache-Control: only-if-cached` (RFC 9111) answers 504
        instead of computing and storing a missing entry, so a check-mode probe fills nothing."""
        if "only-if-cached" in request.headers.get("cache-control", "").lower():
            value = self.cache.peek(key)
            if value is None:
                return JSONResponse({"detail": "not cached"}, status_code=504, headers={"X-Cache": "MISS"})
            return JSONResponse(value, headers={"X-Cache": "HIT"})

        def compute():
            with db.connection(self.settings.database_path) as conn, self.metrics.db_timer(operation):
                return query(conn)
        value, hit = self.cache.get_or_compute(key, compute)
        return JSONResponse(value, headers={"X-Cache": "HIT" if hit else "MISS"})

    def close(self):
        if self.dual_writer is not None:
            self.dual_writer.close()
        self.cache.backend.close()
        self.logs.close()


class RequestMiddleware:
    """Access log line and latency histogram for every request, ERROR lines for 5xx and crashes."""

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_and_capture(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_capture)
        except Exception as exc:
            self.service.logs.application.error(
                "unhandled exception %s %s: %s: %s", scope["method"], scope["path"], exc.__class__.__name__, exc)
            self._record(scope, 500, start)
            raise
        self._record(scope, status["code"], start)

    def _record(self, scope, code, start):
        elapsed = time.perf_counter() - start
        route = scope.get("route")
        # The template, not the raw path: raw paths would give the histogram unbounded label values.
        template = getattr(route, "path", None) or "unmatched"
        self.service.metrics.http_duration.labels(
            method=scope["method"], route=template, status_code=str(code)).observe(elapsed)
        log = self.service.logs.application.error if code >= 500 else self.service.logs.application.info
        user = scope.get("state", {}).get("user_id")
        suffix = " user_id: %s" % user if user else ""
        log("%s %s %d duration=%dms%s", scope["method"], scope["path"], code, round(elapsed * 1000), suffix)


class Login(BaseModel):
    username: str = Field(max_length=256)
    password: str = Field(max_length=1024)


class CountLine(BaseModel):
    item_code: str = Field(min_length=1, max_length=64)
    quantity: float = Field(ge=0, allow_inf_nan=False)


class CountIn(BaseModel):
    count_date: datetime.date
    location: str = Field("main", min_length=1, max_length=128)
    items: List[CountLine] = Field(min_length=1, max_length=10000)


class InvoiceLine(BaseModel):
    item_code: str = Field(min_length=1, max_length=64)
    quantity: float = Field(ge=0, allow_inf_nan=False)
    amount: float = Field(ge=0, allow_inf_nan=False)


class InvoiceIn(BaseModel):
    invoice_number: str = Field(min_length=1, max_length=128)
    vendor: str = Field(min_length=1, max_length=256)
    invoice_date: datetime.date
    lines: List[InvoiceLine] = Field(min_length=1, max_length=10000)


_UNSAFE = re.compile(r"[^\w.@+-]")


def _loggable(text, limit=64):
    """User-supplied text made safe for a space-separated log line."""
    return _UNSAFE.sub("_", text)[:limit] or "-"


def _client_ip(request: Request):
    return request.client.host if request.client else "-"


def _service(request: Request) -> Service:
    return request.app.state.service


def current_user(request: Request) -> str:
    service = _service(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    reason = None
    if scheme.lower() != "bearer" or not token.strip():
        reason = "missing"
    else:
        try:
            user = auth.verify_token(service.settings, token.strip())
        except auth.InvalidToken as exc:
            reason = str(exc)
        else:
            # Read back by RequestMiddleware (request.state is the ASGI scope's "state"): the request line
            # names its user, as the guide's `grep "user_id: ..."` expects.
            request.state.user_id = _loggable(user)
            return user
    service.logs.security.warning("auth token rejected reason=%s ip=%s path=%s",
                                  reason, _client_ip(request), request.url.path)
    raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


def create_app(settings: Settings, console_logs=False) -> FastAPI:
    service = Service(settings, console_logs=console_logs)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        service.logs.application.info(
            "service started version=%s host=%s port=%d cache_backend=%s dual_write_enabled=%s",
            settings.service_version, settings.host, settings.port, service.cache.backend.name,
            str(settings.dual_write_enabled).lower())
        if service.dual_writer is not None:
            service.dual_writer.ensure_schema()
        if len(settings.jwt_secret) < auth.RECOMMENDED_SECRET_LENGTH:
            service.logs.security.warning("auth JWT_SECRET is shorter than %d characters, the length recommended "
                                          "for HS256", auth.RECOMMENDED_SECRET_LENGTH)
        yield
        service.logs.application.info("service stopped")
        service.close()

    app = FastAPI(title="Inventory Enterprise (reference)", version=settings.service_version, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(RequestMiddleware, service=service)

    @app.exception_handler(Exception)
    async def internal_error(_request, _exc):
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.get("/health")
    def health():
        components = service.probe()
        failed = [name for name, up in components.items() if not up]
        body = {"status": "degraded" if failed else "ok"}
        body.update({name: "connected" if up else "disconnected" for name, up in components.items()})
        body.update({"version": settings.service_version, "cache_backend": service.cache.backend.name,
                     "dual_write_enabled": settings.dual_write_enabled})
        if failed:
            body["failed"] = failed
        return JSONResponse(body, status_code=503 if failed else 200)

    @app.get("/metrics")
    def metrics():
        service.probe()
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/inventory/list")
    def inventory_list(request: Request):
        return service.read(request, "inventory:list", "inventory_list", inventory.list_inventory)

    @app.get("/api/inventory/items")
    def inventory_items(request: Request, limit: int = Query(50, ge=1, le=1000)):
        return service.read(request, "inventory:items:%d" % limit, "inventory_items",
                            lambda conn: inventory.top_items(conn, limit))

    @app.get("/api/dashboard/stats")
    def dashboard_stats(request: Request):
        return service.read(request, "dashboard:stats", "dashboard_stats", inventory.dashboard_stats)

    @app.get("/api/cache/stats")
    def cache_stats():
        return service.cache.stats()

    @app.post("/api/auth/login")
    def login(body: Login, request: Request):
        ip = _client_ip(request)
        if not auth.check_credentials(settings, body.username, body.password):
            service.logs.security.warning("auth login failed username=%s ip=%s", _loggable(body.username), ip)
            raise HTTPException(401, "invalid username or password", headers={"WWW-Authenticate": "Bearer"})
        service.logs.security.info("auth login success username=%s ip=%s", _loggable(body.username), ip)
        return {"token": auth.issue_token(settings, body.username), "token_type": "bearer",
                "expires_in": settings.jwt_expires_seconds}

    def write(operation, user, do_write, log_data, mirror=None):
        """Commit, then log, under the transaction-log lock so seq order matches commit order; then mirror the
        committed rows to PostgreSQL when dual-write is on (a failure there is counted, never raised)."""
        with service.txlog.lock:
            try:
                with db.connection(settings.database_path, operation, service.logs.application) as conn, \
                        service.metrics.db_timer(operation):
                    result = do_write(conn)
                    if service.dual_writer is not None and mirror is not None:
                        service.dual_writer.mirror(conn, operation, mirror(result))
            except inventory.UnknownItems as exc:
                raise HTTPException(422, str(exc)) from None
            except inventory.DuplicateInvoice as exc:
                raise HTTPException(409, str(exc)) from None
            seq = service.txlog.append(operation, user, log_data(result))
        service.cache.invalidate()
        return result, seq

    @app.post("/api/inventory/counts", status_code=201)
    def create_count(body: CountIn, user: str = Depends(current_user)):
        lines = [line.model_dump() for line in body.items]
        count_id, seq = write(
            "inventory_count.create", user,
            lambda conn: inventory.create_count(conn, body.count_date.isoformat(), body.location, lines, user),
            lambda count_id: {"count_id": count_id, "count_date": body.count_date.isoformat(),
                              "location": body.location, "items": lines},
            mirror=lambda count_id: [("inventory_counts", "id = ?", (count_id,)),
                                     ("inventory_count_items", "count_id = ?", (count_id,))])
        service.logs.audit.info("user_id: %s action=inventory_count.create count_id=%d items=%d seq=%d",
                                _loggable(user), count_id, len(lines), seq)
        return {"count_id": count_id, "seq": seq}

    @app.post("/api/invoices", status_code=201)
    def create_invoice(body: InvoiceIn, user: str = Depends(current_user)):
        lines = [line.model_dump() for line in body.lines]
        data = {"invoice_number": body.invoice_number, "vendor": body.vendor,
                "invoice_date": body.invoice_date.isoformat(), "lines": lines}
        count, seq = write(
            "invoice.create", user,
            lambda conn: inventory.create_invoice(conn, body.invoice_number, body.vendor,
                                                  body.invoice_date.isoformat(), lines),
            lambda _count: data,
            mirror=lambda _count: [("processed_invoices", "invoice_number = ?", (body.invoice_number,))])
        service.logs.audit.info("user_id: %s action=invoice.create invoice_number=%s lines=%d seq=%d",
                                _loggable(user), _loggable(body.invoice_number, 128), count, seq)
        return {"invoice_number": body.invoice_number, "lines": count, "seq": seq}

    backup.register(app, service, current_user)  # POST /api/backup/create
    ai_api.register(app, service, current_user)  # consumption, anomalies, GET /api/ai/models/list
    training.register(app, service, current_user)  # POST /api/ai/forecast/train
    return app
