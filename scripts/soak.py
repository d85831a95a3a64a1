#!/usr/bin/env python3
"""Soak test of agentshare: a fixed, mixed load against live servers for MINUTES.

    scripts/soak [MINUTES] [--backend sqlite|postgres|both] [--out DIR] [--rate N]

Backends: `sqlite` is one instance on a SQLite file; `postgres` is two instances on
one fresh PostgreSQL database (created from $AGENTSHARE_SOAK_POSTGRES_URL, an admin
URL, default postgres://postgres@127.0.0.1:5432/postgres, and dropped at the end).
With `both` (the default) the two run at the same time, each in a process of its
own with its own servers, so a 30-minute soak takes 30 minutes.

The load runs at a fixed rate (`--rate`, operations per second per backend, 40 by
default) spread over a few worker threads: tasks created, run and finished, events
appended (some private, some retried with their idempotency key), artifacts
uploaded and downloaded back (bytes compared), share links created (unlimited,
with a password, one-time), opened as JSON, as the page and as markdown, their
files downloaded through a view's grant, wrong passwords (the documented 401 and,
once a client has tried too often, 429), one-time links raced by several viewers
at once (exactly one may win), short URLs, link changes and revocations, owner
listings. Besides, a few viewer threads exchange share codes of running tasks and
follow their event streams (Server-Sent Events) for a while, then drop: on
PostgreSQL the events are appended through one instance and followed through the
other. Every owner has webhook endpoints on a local receiver that answers 500 to
one request in five; endpoints are rotated before one holds 200 attempts, the
most the deliveries API lists. Viewers come from many addresses (the servers
trust X-Forwarded-For from 127.0.0.1).

Every 10 s, per server process: RSS (the median of that window's 1-s readings,
their highest, and the floor: the lowest reading of the last 60 s), the RSS's
anonymous and file-backed parts, open descriptors, threads, CPU, what its memory
caches hold (the bytes of its pages, markdown and QR-code caches and the links it
keeps, read from its /metrics), database size (SQLite: the file, -wal and -shm;
PostgreSQL: pg_database_size), and the client-side latency (p50, p99), requests
and errors of the requests that completed in the window. Output in --out
(default target/soak/<UTC time>): samples-<backend>.csv, soak-<backend>.svg
(small multiples of those series against minutes), summary.json, summary.md (a
table to paste into docs/operations.md), logs/ (each server's log).

End checks (exit status 1 if one fails):
 1. no growth trend in RSS or descriptors: after a warm-up of 20 % of the load, a
    least-squares line through the RSS floor may rise at most 10 % of its mean,
    and descriptors may end at most 10 above their warm-up median, not counting
    the SQLite pool's database files (bounded by the pool: checked on their own);
 2. every count exact: each link's view count and analytics total equal the
    successful views the load got, one-time links had exactly one winner, each
    task's last sequence number equals the events appended;
 3. every delivery attempted: once the load stops, the servers get to no pending
    deliveries; every event the deliveries API lists was attempted and delivered,
    as many times as the receiver saw it; every id the receiver acknowledged shows
    delivered; the receiver got each event the load caused exactly once per id;
 4. no errors: no unexpected status, 5xx, connection error, timeout or mismatch.

`--fault count-view-twice` or `--fault drop-delivery` make the load miscount on
purpose, to see checks 2 and 3 fail.
"""

from __future__ import annotations

import argparse
import base64
import collections
import ctypes
import datetime as dt
import hashlib
import hmac
import http.client
import http.server
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from array import array
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
try:  # the project's client: used to check the servers' health while starting them
    from agentshare import AgentshareClient  # type: ignore
except Exception:  # pragma: no cover - the harness works without it
    AgentshareClient = None  # type: ignore

SAMPLE_SECONDS = 10
WARMUP_FRACTION = 0.2
RSS_RISE_LIMIT = 0.10
FD_RISE_LIMIT = 10
# The servers' pool size: on SQLite each connection holds the database file and
# its -wal open, and there are two more (the write pool's and the view writer's).
DB_MAX_CONNECTIONS = 16
DB_FDS_BOUND = 2 * (DB_MAX_CONNECTIONS + 2)
FLOOR_SECONDS = 60  # the RSS floor: the lowest 1-s reading over this long
REQUEST_TIMEOUT = 15.0
UPLOAD_TIMEOUT = 30.0
IDLE_RECONNECT = 15.0
ROTATE_AT = 110  # expected webhook events per endpoint before a new one takes over
LIST_LIMIT = 200  # the most attempts GET /v1/webhooks/{id}/deliveries lists
FAIL_EVERY = 5  # the receiver answers 500 to one request in this many
RACERS = 4
SSE_VIEWERS = 3
LIVE_TASKS = 4
SSE_DEADLINE = 12.0
SSE_GRACE = 3.0  # an event acknowledged this long before a viewer dropped must have reached it
WEBHOOK_EVENTS = ["share_link.viewed", "share_link.revoked", "share_link.expired", "task_share.accessed"]
UNUSED_EVENT = ["comment.created"]  # what a retired endpoint is left subscribed to
WEIGHTS = {
    "new_task": 7,
    "append_event": 16,
    "upload_artifact": 5,
    "finish_task": 7,
    "create_link": 9,
    "view_json": 14,
    "view_html": 8,
    "view_md": 4,
    "download_shared": 4,
    "wrong_password": 5,
    "one_time_race": 3,
    "short_url": 2,
    "update_link": 2,
    "revoke_link": 2,
    "verify_links": 6,
    "owner_reads": 5,
}
USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
]
VIEWER_IPS = ["203.0.113.%d" % i for i in range(1, 255)] + ["198.51.100.%d" % i for i in range(1, 255)]
ATTACKER_IPS = ["192.0.2.%d" % i for i in range(1, 255)]
WORDS = (
    "agent build check compile deploy fix report result review step summary test update "
    "login cookie session renew branch merge output progress retry cache index page table "
    "query latency record stream viewer archive green done plan draft note chart value"
).split()


def log(prefix: str, message: str) -> None:
    sys.stdout.write("[%s %s] %s\n" % (dt.datetime.now().strftime("%H:%M:%S"), prefix, message))
    sys.stdout.flush()


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def percentile(values, p: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(math.ceil(p / 100.0 * len(ordered))) - 1))
    return ordered[k]


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return ("%." + str(digits) + "f") % value
    return str(value)


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------

ERROR_KINDS = ("unexpected_status", "http_5xx", "connection", "timeout", "mismatch")


class Metrics:
    """Latencies and errors per instance: per 10-s window and for the whole run."""

    def __init__(self, instances: List[str]) -> None:
        self.lock = threading.Lock()
        self.instances = instances
        self.window = {i: {"lat": [], "errors": collections.Counter()} for i in instances}
        self.all_lat = {i: array("d") for i in instances}
        self.requests = collections.Counter()
        self.errors = collections.Counter()
        self.examples: List[dict] = []
        self.ops = collections.Counter()
        self.statuses = collections.Counter()
        self.outcomes = collections.Counter()

    def request(self, inst: str, op: str, method: str, seconds: float, status: Optional[int],
                kind: Optional[str], detail: Optional[str] = None) -> None:
        with self.lock:
            w = self.window[inst]
            w["lat"].append(seconds)
            self.all_lat[inst].append(seconds)
            self.requests[inst] += 1
            self.statuses["%s %s" % (op, status if status is not None else "-")] += 1
            if kind:
                w["errors"][kind] += 1
                self.errors[kind] += 1
                if len(self.examples) < 25:
                    self.examples.append({"at": time.time(), "instance": inst, "op": op, "method": method,
                                          "status": status, "kind": kind, "detail": (detail or "")[:400]})

    def mismatch(self, inst: str, op: str, detail: str) -> None:
        with self.lock:
            self.window[inst]["errors"]["mismatch"] += 1
            self.errors["mismatch"] += 1
            if len(self.examples) < 25:
                self.examples.append({"at": time.time(), "instance": inst, "op": op, "method": "-",
                                      "status": None, "kind": "mismatch", "detail": detail[:400]})

    def error(self, inst: str, op: str, kind: str, detail: str) -> None:
        """An error outside a request's answer (a stream broken while read)."""
        with self.lock:
            self.window[inst]["errors"][kind] += 1
            self.errors[kind] += 1
            if len(self.examples) < 25:
                self.examples.append({"at": time.time(), "instance": inst, "op": op, "method": "-",
                                      "status": None, "kind": kind, "detail": detail[:400]})

    def op(self, name: str) -> None:
        with self.lock:
            self.ops[name] += 1

    def outcome(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.outcomes[name] += n

    def take_window(self) -> Dict[str, dict]:
        with self.lock:
            taken = self.window
            self.window = {i: {"lat": [], "errors": collections.Counter()} for i in self.instances}
        return taken


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class Resp:
    __slots__ = ("status", "headers", "body", "ok")

    def __init__(self, status: int, headers: Dict[str, str], body: bytes, ok: bool) -> None:
        self.status, self.headers, self.body, self.ok = status, headers, body, ok

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def data(self) -> Any:
        value = self.json()
        if isinstance(value, dict) and "success" in value and "data" in value:
            return value["data"]
        return value

    def code(self) -> Optional[str]:
        try:
            value = json.loads(self.body.decode("utf-8"))
        except Exception:
            return None
        if not isinstance(value, dict):
            return None
        error = value.get("error")
        if isinstance(error, dict):
            return error.get("code")
        return value.get("code")


class Client:
    """One thread's HTTP client: a kept-alive connection per instance, a deadline on
    every request, each outcome recorded in the metrics."""

    def __init__(self, addrs: Dict[str, Tuple[str, int]], metrics: Metrics) -> None:
        self.addrs = addrs
        self.metrics = metrics
        self.conns: Dict[str, Tuple[http.client.HTTPConnection, float]] = {}

    def _conn(self, inst: str, timeout: float) -> http.client.HTTPConnection:
        held = self.conns.get(inst)
        if held is not None:
            conn, used = held
            if time.monotonic() - used < IDLE_RECONNECT:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn
            conn.close()
        host, port = self.addrs[inst]
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.conns[inst] = (conn, time.monotonic())
        return conn

    def drop(self, inst: str) -> None:
        held = self.conns.pop(inst, None)
        if held is not None:
            held[0].close()

    def close(self) -> None:
        for inst in list(self.conns):
            self.drop(inst)

    def request(self, inst: str, op: str, method: str, path: str, *, expect: Any = (200,),
                auth: Optional[str] = None, ip: Optional[str] = None, ua: Optional[str] = None,
                accept: str = "application/json", json_body: Any = None, body: Optional[bytes] = None,
                content_type: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
                timeout: float = REQUEST_TIMEOUT) -> Optional[Resp]:
        """Sends a request; `expect` is a tuple of statuses, or a dict of status to the
        error codes allowed with it (None: any). Answers None when no answer came."""
        send = {"Accept": accept, "User-Agent": ua or "agentshare-soak/1.0"}
        if auth:
            send["Authorization"] = "Bearer " + auth
        if ip:
            send["X-Forwarded-For"] = ip
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        if content_type:
            send["Content-Type"] = content_type
        if headers:
            send.update(headers)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        conn = self._conn(inst, timeout)
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=send)
            raw = conn.getresponse()
            data = raw.read()
            status = raw.status
            resp_headers = {k.lower(): v for k, v in raw.getheaders()}
            if raw.will_close:
                self.drop(inst)
            else:
                self.conns[inst] = (conn, time.monotonic())
        except (socket.timeout, TimeoutError) as err:
            self.drop(inst)
            self.metrics.request(inst, op, method, time.monotonic() - started, None, "timeout",
                                 "%s %s: %s" % (method, redact_path(path), err))
            return None
        except (OSError, http.client.HTTPException) as err:
            self.drop(inst)
            self.metrics.request(inst, op, method, time.monotonic() - started, None, "connection",
                                 "%s %s: %r" % (method, redact_path(path), err))
            return None
        seconds = time.monotonic() - started
        ok = True
        if isinstance(expect, dict):
            if status not in expect:
                ok = False
            elif expect[status] is not None:
                code = Resp(status, resp_headers, data, True).code()
                ok = code in expect[status]
        else:
            ok = status in expect
        kind = None
        if not ok:
            kind = "http_5xx" if status >= 500 else "unexpected_status"
        detail = None
        if kind:
            detail = "%s %s -> %d %s" % (method, redact_path(path), status, data[:200].decode("utf-8", "replace"))
        self.metrics.request(inst, op, method, seconds, status, kind, detail)
        return Resp(status, resp_headers, data, ok)


def redact_path(path: str) -> str:
    """A path for the report: tokens and codes shortened."""
    path = re.sub(r"/s/([A-Za-z0-9_-]{6})[A-Za-z0-9_-]+", r"/s/\1…", path)
    return re.sub(r"(grant|code)=[^&]+", r"\1=…", path)


# ---------------------------------------------------------------------------
# Webhook receiver
# ---------------------------------------------------------------------------


class Delivery:
    __slots__ = ("endpoint", "event_id", "event_type", "subject", "hits", "statuses", "acked", "signed")

    def __init__(self, endpoint: str, event_id: str) -> None:
        self.endpoint, self.event_id = endpoint, event_id
        self.event_type = ""
        self.subject = ""
        self.hits = 0
        self.statuses: List[int] = []
        self.acked = False
        self.signed: List[Tuple[str, bytes, str]] = []  # (timestamp, body, signature header)


class Receiver:
    """A local webhook endpoint (Standard Webhooks) that answers 500 to every
    FAIL_EVERY-th request and 204 to the others, and records what it got."""

    def __init__(self, fault: str) -> None:
        self.lock = threading.Lock()
        self.counter = 0
        self.deliveries: Dict[Tuple[str, str], Delivery] = {}
        self.requests = 0
        self.failed = 0
        self.malformed: List[str] = []
        self.fault = fault
        self.dropped_one = False
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = receiver.record(self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, key: str) -> str:
        return "http://127.0.0.1:%d/hook/%s" % (self.port, key)

    def record(self, path: str, headers: Any, body: bytes) -> int:
        endpoint = path.rsplit("/", 1)[-1]
        event_id = headers.get("webhook-id") or ""
        with self.lock:
            self.requests += 1
            self.counter += 1
            fail = self.counter % FAIL_EVERY == 0
            status = 500 if fail else 204
            if fail:
                self.failed += 1
            if not event_id:
                self.malformed.append("no webhook-id on %s" % path)
                return status
            d = self.deliveries.get((endpoint, event_id))
            if d is None:
                d = self.deliveries[(endpoint, event_id)] = Delivery(endpoint, event_id)
                try:
                    payload = json.loads(body.decode("utf-8"))
                    d.event_type = payload.get("event", "")
                    d.subject = payload.get("share_link_id") or payload.get("task_id") or ""
                except Exception as err:
                    self.malformed.append("%s: body is not JSON: %s" % (event_id, err))
            d.hits += 1
            d.statuses.append(status)
            d.acked = d.acked or not fail
            if len(d.signed) < 3:
                d.signed.append((headers.get("webhook-timestamp") or "", body, headers.get("webhook-signature") or ""))
            if self.fault == "drop-delivery" and d.acked and not self.dropped_one and self.counter > 20:
                # Self-test: forget one acknowledged delivery, as a receiver that lost it would.
                self.dropped_one = True
                del self.deliveries[(endpoint, event_id)]
        return status

    def snapshot(self) -> Dict[Tuple[str, str], Delivery]:
        with self.lock:
            return dict(self.deliveries)


def signature_ok(secret: str, event_id: str, timestamp: str, body: bytes, header: str) -> bool:
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    signed = b"%s.%s.%s" % (event_id.encode(), timestamp.encode(), body)
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, part.split(",", 1)[1])
               for part in header.split() if "," in part)


# ---------------------------------------------------------------------------
# Processes and databases
# ---------------------------------------------------------------------------

_libc = None


def _child_setup() -> None:
    """In a server's process before exec: its own session (a terminal's Ctrl-C goes
    to the harness, which stops the servers itself), and SIGKILL should the harness
    die without cleaning up."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Server:
    def __init__(self, name: str, binary: str, database_url: str, work: str, logs: str) -> None:
        self.name = name
        self.binary = binary
        self.database_url = database_url
        self.log_path = os.path.join(logs, "%s.log" % name)
        self.mail_dir = os.path.join(work, "mail-%s" % name)
        self.proc: Optional[subprocess.Popen] = None
        self.addr: Optional[Tuple[str, int]] = None
        self.cpu_prev: Optional[Tuple[float, float]] = None
        self.fd_limit: Optional[int] = None
        # Where the server serves /metrics (read for its caches' sizes).
        self.metrics_port = free_port()
        # The SQLite file (its -wal and -shm too): descriptors on it are the
        # connection pool's, bounded by its size.
        self.database_file = database_url[len("sqlite://"):] if database_url.startswith("sqlite://") else ""

    def start(self) -> None:
        os.makedirs(self.mail_dir, exist_ok=True)
        log_file = open(self.log_path, "ab")
        args = [self.binary, "serve", "--listen", "127.0.0.1:0", "--database-url", self.database_url,
                "--mail-dir", self.mail_dir, "--webhook-allow-cidr", "127.0.0.0/8",
                "--webhook-retry-base-ms", "1000", "--trusted-proxy", "127.0.0.1/32",
                "--db-max-connections", str(DB_MAX_CONNECTIONS),
                "--metrics-listen", "127.0.0.1:%d" % self.metrics_port]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env["NO_COLOR"] = "1"
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                     env=env, preexec_fn=_child_setup, close_fds=True)
        log_file.close()

    def wait_listening(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pattern = re.compile(rb"serving on http://([0-9.]+):(\d+)")
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError("%s exited while starting (see %s)" % (self.name, self.log_path))
            with open(self.log_path, "rb") as f:
                m = pattern.search(f.read())
            if m:
                self.addr = (m.group(1).decode(), int(m.group(2)))
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("%s did not start listening within %.0f s (see %s)" % (self.name, timeout, self.log_path))
        # Ready: every migration applied, the view writer and the workers running.
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection(self.addr[0], self.addr[1], timeout=5)
                conn.request("GET", "/readyz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("%s was not ready within %.0f s" % (self.name, timeout))

    def caches(self) -> Tuple[Optional[float], Optional[int]]:
        """What the server's memory caches hold, from its /metrics: the bytes the
        sized ones keep (pages, markdown, QR codes), in MB, and the links kept;
        None where the server does not tell."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=5)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            conn.close()
        except (OSError, http.client.HTTPException):
            return None, None
        cache_bytes, links = None, None
        for line in text.splitlines():
            if line.startswith("agentshare_cache_bytes{"):
                cache_bytes = (cache_bytes or 0.0) + float(line.rsplit(" ", 1)[1])
            elif line.startswith('agentshare_cache_entries{cache="links"}'):
                links = int(float(line.rsplit(" ", 1)[1]))
        return (None if cache_bytes is None else cache_bytes / (1024.0 * 1024.0)), links

    @property
    def base(self) -> str:
        assert self.addr
        return "http://%s:%d" % self.addr

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def memory(self) -> Optional[Tuple[float, int, int, int, Optional[float], Optional[float]]]:
        """RSS (MB), open descriptors, those of them on the SQLite database's
        files (the connection pool's: bounded by its size), threads, and the RSS's
        anonymous part (the heap, stacks) and file-backed part (the binary's pages,
        mapped files) now, in MB (None where the kernel does not tell them apart)."""
        if not self.alive():
            return None
        pid = self.proc.pid  # type: ignore[union-attr]
        rss, threads = None, None
        anon: Optional[float] = None
        backed: Optional[float] = None
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024.0
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
                    elif line.startswith("RssAnon:"):
                        anon = int(line.split()[1]) / 1024.0
                    elif line.startswith("RssFile:") or line.startswith("RssShmem:"):
                        backed = (backed or 0.0) + int(line.split()[1]) / 1024.0
            fds, db_fds = 0, 0
            for entry in os.listdir("/proc/%d/fd" % pid):
                fds += 1
                try:
                    target = os.readlink("/proc/%d/fd/%s" % (pid, entry))
                except OSError:
                    continue
                if self.database_file and target.startswith(self.database_file):
                    db_fds += 1
        except (OSError, ValueError):
            return None
        if rss is None or threads is None:
            return None
        return rss, fds, db_fds, threads, anon, backed

    def cpu_pct(self) -> Optional[float]:
        """CPU used since the last call, in % of one core."""
        if not self.alive():
            return None
        pid = self.proc.pid  # type: ignore[union-attr]
        out = None
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            cpu = (int(fields[11]) + int(fields[12])) / ticks
            now = time.monotonic()
            if self.cpu_prev is not None and now > self.cpu_prev[0]:
                out = 100.0 * (cpu - self.cpu_prev[1]) / (now - self.cpu_prev[0])
            self.cpu_prev = (now, cpu)
        except (OSError, ValueError, IndexError):
            pass
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except OSError:
                pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(url: str, sql: str, timeout: float = 30.0) -> str:
    result = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError("psql failed: %s" % result.stderr.strip())
    return result.stdout.strip()


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


# ---------------------------------------------------------------------------
# The load's model of what it did
# ---------------------------------------------------------------------------


class Endpoint:
    def __init__(self, key: str, webhook_id: str, secret: str, owner: "Owner") -> None:
        self.key, self.webhook_id, self.secret, self.owner = key, webhook_id, secret, owner
        self.expected = 0


class Owner:
    def __init__(self, name: str, key: str) -> None:
        self.name, self.key = name, key
        self.endpoints: List[Endpoint] = []
        self.current: Optional[Endpoint] = None
        self.rotating = False


class Task:
    def __init__(self, task_id: str, owner: Owner, home: str) -> None:
        self.id, self.owner, self.home = task_id, owner, home
        self.events: Dict[int, Tuple[bool, str, float, float]] = {}  # seq -> (private, digest, sent at, acked at)
        self.public_outputs = 0
        self.artifacts: List[Tuple[str, str, int]] = []  # (artifact id, sha256, size)
        self.inflight = 0
        self.code: Optional[str] = None
        self.status = "running"
        self.uploads = 0


class Link:
    def __init__(self, link_id: str, kind: str, task: Task, token_path: str, short_path: str,
                 password: Optional[str], budget: int) -> None:
        self.id, self.kind, self.task = link_id, kind, task
        self.token_path, self.short_path, self.password = token_path, short_path, password
        self.budget = budget
        self.successes = 0
        self.counts_seen: set = set()
        self.inflight = 0
        self.retired = False
        self.revoked = False
        self.verified = False
        self.wrong_times: Dict[str, List[float]] = {}  # client -> when its wrong passwords were refused (401)
        self.wrong_total = 0
        self.guessing = False
        self.winners = 0


class Pacer:
    """Hands out start times at a fixed rate: a soak, not a benchmark."""

    def __init__(self, rate: float, start: float) -> None:
        self.interval = 1.0 / rate
        self.next = start
        self.lock = threading.Lock()
        self.late = 0
        self.handed = 0

    def wait(self, stop: threading.Event) -> bool:
        with self.lock:
            at = self.next
            now = time.monotonic()
            if at < now - 2.0:  # far behind: don't burst to catch up
                self.late += 1
                at = now
                self.next = now
            self.next += self.interval
            self.handed += 1
        delay = at - time.monotonic()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()


# ---------------------------------------------------------------------------
# A backend under load
# ---------------------------------------------------------------------------


class Backend:
    def __init__(self, kind: str, args: argparse.Namespace, out: str) -> None:
        self.kind = kind
        self.args = args
        self.out = out
        self.binary = args.binary
        self.work = os.path.join(out, "work-%s" % kind)
        self.logs = os.path.join(out, "logs")
        self.rng = random.Random(args.seed + (0 if kind == "sqlite" else 1))
        self.servers: List[Server] = []
        self.instances: List[str] = []
        self.receiver = Receiver(args.fault)
        self.pg_admin = os.environ.get("AGENTSHARE_SOAK_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        self.pg_name: Optional[str] = None
        self.database_url = ""
        self.sqlite_path = ""
        self.owners: List[Owner] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.running: List[Task] = []
        self.live: List[Task] = []
        self.finished: collections.deque = collections.deque(maxlen=400)
        self.links: Dict[str, Link] = {}
        self.active: List[Link] = []
        self.verify_queue: collections.deque = collections.deque()
        self.expected_events: collections.Counter = collections.Counter()
        self.count_failures: List[str] = []
        self.n_count_failures = 0
        self.sse = collections.Counter()
        self.sse_latency: List[float] = []
        self.streams: set = set()
        self.rows: List[dict] = []
        self.metrics: Optional[Metrics] = None
        self.load_started = 0.0
        self.load_ended = 0.0
        self.t0 = 0.0
        self.phase = "setup"
        self.seq = 0
        self.result: dict = {}
        self.version = ""

    # -- setup and teardown -------------------------------------------------

    def setup(self) -> None:
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)
        if self.kind == "sqlite":
            self.sqlite_path = os.path.join(self.work, "agentshare.db")
            self.database_url = "sqlite://" + self.sqlite_path
            names = ["sqlite"]
        else:
            subprocess.run([os.path.join(ROOT, "scripts", "ensure-postgres")], check=True,
                           stdin=subprocess.DEVNULL, timeout=120)
            self.pg_name = "agentshare_soak_%s" % os.urandom(4).hex()
            psql(self.pg_admin, "CREATE DATABASE %s" % self.pg_name)
            self.database_url = with_database(self.pg_admin, self.pg_name)
            names = ["postgres-a", "postgres-b"]
        self.version = subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                                      timeout=30).stdout.strip()
        # Owners and their keys, made by the binary itself (this also migrates).
        for name in ("soak-alice", "soak-bob"):
            result = subprocess.run([self.binary, "keys", "create", "--owner", name,
                                     "--database-url", self.database_url],
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                raise RuntimeError("keys create failed: %s" % result.stderr.strip())
            self.owners.append(Owner(name, result.stdout.strip().splitlines()[-1].strip()))
        for name in names:
            server = Server(name, self.binary, self.database_url, self.work, self.logs)
            self.servers.append(server)
            server.start()
        self.receiver.start()  # after the servers: they are forked before any thread runs
        for server in self.servers:
            server.wait_listening()
            if AgentshareClient is not None:
                health = AgentshareClient(api_key=self.owners[0].key, server=server.base, timeout=10).health()
                log(self.kind, "%s ready at %s (pid %d, database %s)" % (
                    server.name, server.base, server.proc.pid, getattr(health, "database", "?")))  # type: ignore
        self.instances = [s.name for s in self.servers]
        self.metrics = Metrics(self.instances)
        client = self.client()
        for owner in self.owners:
            self.add_endpoint(client, owner)
        client.close()

    def teardown(self) -> None:
        for server in self.servers:
            try:
                server.stop()
            except Exception as err:  # keep stopping the others
                log(self.kind, "stopping %s: %s" % (server.name, err))
        try:
            self.receiver.stop()
        except Exception:
            pass
        if self.pg_name:
            try:
                # Dropping waits for a checkpoint: slow on a busy machine.
                psql(self.pg_admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.pg_name, timeout=300)
            except Exception as err:
                log(self.kind, "could not drop database %s: %s" % (self.pg_name, err))
        if not self.args.keep_data and os.path.isdir(self.work):
            shutil.rmtree(self.work, ignore_errors=True)

    # -- helpers ------------------------------------------------------------

    def client(self) -> Client:
        assert self.metrics is not None
        return Client({s.name: s.addr for s in self.servers}, self.metrics)  # type: ignore[misc]

    def other(self, inst: str) -> str:
        if len(self.instances) == 1:
            return inst
        return self.instances[1] if inst == self.instances[0] else self.instances[0]

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def count_failure(self, message: str) -> None:
        with self.lock:
            self.n_count_failures += 1
            if len(self.count_failures) < 25:
                self.count_failures.append(message)

    def expect_event(self, client: Client, owner: Owner, event_type: str, subject: str) -> None:
        rotate = False
        with self.lock:
            self.expected_events[(owner.name, event_type, subject)] += 1
            if owner.current is not None:
                owner.current.expected += 1
                if owner.current.expected >= ROTATE_AT and not owner.rotating:
                    owner.rotating = True
                    rotate = True
        if rotate:
            try:
                self.add_endpoint(client, owner)
            finally:
                with self.lock:
                    owner.rotating = False

    def add_endpoint(self, client: Client, owner: Owner) -> None:
        """A new endpoint for the owner; the one before is left subscribed to nothing
        the load causes (its pending retries go on), so that no endpoint holds more
        attempts than the deliveries API lists."""
        inst = self.rng.choice(self.instances)
        key = "%s-%s-%d" % (self.kind, owner.name, len(owner.endpoints) + 1)
        r = client.request(inst, "webhook_create", "POST", "/v1/webhooks", expect=(201,), auth=owner.key,
                           json_body={"url": self.receiver.url(key), "events": WEBHOOK_EVENTS,
                                      "description": "soak receiver %s" % key})
        if r is None or not r.ok:
            return
        data = r.data()
        endpoint = Endpoint(key, data["webhook_id"], data["secret"], owner)
        with self.lock:
            previous = owner.current
            owner.endpoints.append(endpoint)
            owner.current = endpoint
        if previous is not None:
            client.request(self.other(inst), "webhook_update", "PATCH", "/v1/webhooks/" + previous.webhook_id,
                           expect=(200,), auth=owner.key, json_body={"events": UNUSED_EVENT})

    # -- the load -----------------------------------------------------------

    def run(self, minutes: float) -> None:
        assert self.metrics is not None
        self.t0 = time.monotonic()
        self.load_started = self.t0
        self.phase = "load"
        sampler = threading.Thread(target=self.sample_loop, name="sampler", daemon=True)
        sampler.start()
        pacer = Pacer(self.args.rate, time.monotonic())
        threads = []
        for i in range(self.args.workers):
            t = threading.Thread(target=self.worker, args=(i, pacer), name="worker-%d" % i, daemon=True)
            threads.append(t)
        for i in range(SSE_VIEWERS):
            t = threading.Thread(target=self.sse_viewer, args=(i,), name="sse-%d" % i, daemon=True)
            threads.append(t)
        for t in threads:
            t.start()
        end = self.t0 + minutes * 60.0
        next_report = self.t0 + 60.0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            for server in self.servers:
                if not server.alive():
                    raise RuntimeError("%s exited during the load (status %s; see %s)" % (
                        server.name, server.proc.returncode, server.log_path))  # type: ignore[union-attr]
            time.sleep(min(1.0, end - now))
            if time.monotonic() >= next_report:
                next_report += 60.0
                self.report_progress()
        self.stop.set()
        self.load_ended = time.monotonic()
        with self.lock:  # viewers drop their streams at once
            streams = list(self.streams)
        for conn in streams:
            try:
                if conn.sock is not None:
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT * 3)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            log(self.kind, "threads still busy after the load: %s" % ", ".join(stuck))
        self.late_ops = pacer.late
        self.paced_ops = pacer.handed
        self.phase = "drain"

    def report_progress(self) -> None:
        assert self.metrics is not None
        with self.metrics.lock:
            ops = sum(self.metrics.ops.values())
            reqs = sum(self.metrics.requests.values())
            errs = sum(self.metrics.errors.values())
        last = [r for r in self.rows[-len(self.servers):]] if self.rows else []
        mem = ", ".join("%s %s MB %s fds" % (r["instance"], fmt(r["rss_mb"]), r["fds"]) for r in last)
        log(self.kind, "%.1f min: %d ops, %d requests, %d errors; %s" % (
            (time.monotonic() - self.t0) / 60.0, ops, reqs, errs, mem))

    def worker(self, index: int, pacer: Pacer) -> None:
        rng = random.Random(self.args.seed * 1000 + index + (0 if self.kind == "sqlite" else 500))
        client = self.client()
        names = list(WEIGHTS)
        weights = [WEIGHTS[n] for n in names]
        turn = index
        try:
            while pacer.wait(self.stop):
                op = rng.choices(names, weights)[0]
                inst = self.instances[turn % len(self.instances)]
                turn += 1
                try:
                    getattr(self, "op_" + op)(client, rng, inst)
                except Exception as err:  # a bug of the harness: report it, keep going
                    assert self.metrics is not None
                    self.metrics.mismatch(inst, op, "harness error: %s\n%s" % (err, traceback.format_exc(limit=3)))
        finally:
            client.close()

    # Tasks, events, artifacts

    def op_new_task(self, client: Client, rng: random.Random, inst: str) -> None:
        with self.lock:
            too_many = len(self.running) >= 30
        if too_many:
            return self.op_finish_task(client, rng, inst)
        self.metrics.op("new_task")  # type: ignore[union-attr]
        owner = rng.choice(self.owners)
        n = self.next_seq()
        r = client.request(inst, "task_create", "POST", "/v1/tasks", expect=(201,), auth=owner.key,
                           json_body={"title": "soak task %d" % n, "prompt": words(rng, 30), "agent": "soak 1.0"})
        if r is None or not r.ok:
            return
        task = Task(r.data()["task_id"], owner, inst)
        other = self.other(inst)
        r = client.request(other, "task_update", "PATCH", "/v1/tasks/" + task.id, expect=(200,), auth=owner.key,
                           json_body={"status": "running"})
        if r is None or not r.ok:
            return
        self.append(client, rng, inst, task, kind="output")
        live = False
        with self.lock:
            live = len(self.live) < LIVE_TASKS
        if live:
            r = client.request(inst, "code_create", "POST", "/v1/agentrix/tasks/%s/share" % task.id, expect=(201,),
                               auth=owner.key, json_body={})
            if r is not None and r.ok:
                task.code = r.json()["shareCode"]
        with self.lock:
            if task.code is not None:
                self.live.append(task)
            else:
                self.running.append(task)

    def append(self, client: Client, rng: random.Random, inst: str, task: Task, kind: Optional[str] = None) -> None:
        kind = kind or rng.choice(["progress", "log", "message", "output", "progress", "log"])
        private = kind != "output" and rng.random() < 0.1
        content = words(rng, rng.randint(5, 300))
        body: Dict[str, Any] = {"type": kind, "content": content}
        if kind in ("output", "log"):
            body["name"] = "%s %d" % ("Result" if kind == "output" else "stdout", rng.randint(1, 99))
        if private:
            body["private"] = True
        keyed = rng.random() < 0.3
        if keyed:
            body["key"] = "soak-%d" % self.next_seq()
        sent = time.monotonic()
        r = client.request(inst, "event_append", "POST", "/v1/tasks/%s/events" % task.id, expect=(201,),
                           auth=task.owner.key, json_body=body)
        if r is None or not r.ok:
            return
        seq = r.data()["seq"]
        with self.lock:
            if seq in task.events:
                self.metrics.mismatch(inst, "event_append", "seq %d given twice on %s" % (seq, task.id))  # type: ignore
            task.events[seq] = (private, digest(content.encode()), sent, time.monotonic())
            if kind == "output" and not private:
                task.public_outputs += 1
        if keyed:
            # The same event again (a retry after a timeout): stored once, answered 200.
            again = client.request(self.other(inst), "event_retry", "POST", "/v1/tasks/%s/events" % task.id,
                                   expect=(200,), auth=task.owner.key, json_body=body)
            if again is not None and again.ok and again.data()["seq"] != seq:
                self.metrics.mismatch(inst, "event_retry", "retried event got seq %s, first %s" % (  # type: ignore
                    again.data()["seq"], seq))

    def take_running(self, rng: random.Random, live_share: float = 0.0) -> Optional[Task]:
        with self.lock:
            pool = self.live if (self.live and rng.random() < live_share) else self.running
            candidates = [t for t in pool if t.status == "running"]
            if not candidates:
                return None
            task = rng.choice(candidates)
            task.inflight += 1
            return task

    def release(self, task: Task) -> None:
        with self.lock:
            task.inflight -= 1

    def op_append_event(self, client: Client, rng: random.Random, inst: str) -> None:
        task = self.take_running(rng, live_share=0.5)
        if task is None:
            return self.op_new_task(client, rng, inst)
        self.metrics.op("append_event")  # type: ignore[union-attr]
        try:
            # A live task's events go through its home instance; its viewers follow it
            # through the other one.
            self.append(client, rng, task.home if task.code else inst, task)
        finally:
            self.release(task)

    def op_upload_artifact(self, client: Client, rng: random.Random, inst: str) -> None:
        task = self.take_running(rng, live_share=0.2)
        if task is None:
            return self.op_new_task(client, rng, inst)
        self.metrics.op("upload_artifact")  # type: ignore[union-attr]
        try:
            with self.lock:
                if task.uploads >= 4:
                    return
                task.uploads += 1
            size = int(math.exp(rng.uniform(math.log(200), math.log(96 * 1024))))
            data = rng.randbytes(size)
            name = "file-%d.bin" % self.next_seq()
            r = client.request(inst, "artifact_upload", "POST", "/v1/tasks/%s/artifacts?name=%s" % (task.id, name),
                               expect=(201,), auth=task.owner.key, body=data,
                               content_type="application/octet-stream", timeout=UPLOAD_TIMEOUT)
            if r is None or not r.ok:
                return
            info = r.data()
            if info["sha256"] != digest(data) or info["size_bytes"] != size:
                self.metrics.mismatch(inst, "artifact_upload", "stored %s/%s, sent %s/%s" % (  # type: ignore
                    info["sha256"][:12], info["size_bytes"], digest(data)[:12], size))
            with self.lock:
                task.artifacts.append((info["artifact_id"], digest(data), size))
            other = self.other(inst)
            r = client.request(other, "artifact_download", "GET",
                               "/v1/tasks/%s/artifacts/%s" % (task.id, info["artifact_id"]),
                               expect=(200,), auth=task.owner.key, accept="*/*", timeout=UPLOAD_TIMEOUT)
            if r is not None and r.ok and r.body != data:
                self.metrics.mismatch(other, "artifact_download", "owner download of %s differs (%d bytes, sent %d)" % (  # type: ignore
                    info["artifact_id"], len(r.body), size))
        finally:
            self.release(task)

    def op_finish_task(self, client: Client, rng: random.Random, inst: str) -> None:
        with self.lock:
            candidates = [t for t in self.running if t.inflight == 0]
            old_live = [t for t in self.live if t.inflight == 0 and len(t.events) >= 20]
            task = None
            if old_live and rng.random() < 0.5:
                task = rng.choice(old_live)
                self.live.remove(task)
            elif candidates:
                task = rng.choice(candidates)
                self.running.remove(task)
            if task is not None:
                task.status = "finishing"
        if task is None:
            return
        self.metrics.op("finish_task")  # type: ignore[union-attr]
        status = "failed" if rng.random() < 0.1 else "completed"
        r = client.request(task.home if task.code else inst, "task_update", "PATCH", "/v1/tasks/" + task.id,
                           expect=(200,), auth=task.owner.key, json_body={"status": status})
        if r is None or not r.ok:
            return
        task.status = status
        other = self.other(inst)
        r = client.request(other, "task_get", "GET", "/v1/tasks/" + task.id, expect=(200,), auth=task.owner.key)
        if r is not None and r.ok:
            data = r.data()
            n = len(task.events)
            if data["status"] != status or data["last_event_seq"] != n or (n and max(task.events) != n):
                self.count_failure("task %s: server says %s with last_event_seq %s; the load appended %d events (%s)" % (
                    task.id, data["status"], data["last_event_seq"], n, status))
        with self.lock:
            self.finished.append(task)

    # Share links

    def op_create_link(self, client: Client, rng: random.Random, inst: str) -> None:
        with self.lock:
            tasks = list(self.finished)
        if not tasks:
            return self.op_finish_task(client, rng, inst)
        self.metrics.op("create_link")  # type: ignore[union-attr]
        task = rng.choice(tasks)
        kind = "password" if rng.random() < 0.45 else "plain"
        self.create_link(client, rng, inst, task, kind)

    def create_link(self, client: Client, rng: random.Random, inst: str, task: Task, kind: str) -> Optional[Link]:
        body: Dict[str, Any] = {"task_id": task.id, "title": "soak link %d" % self.next_seq(),
                                "permissions": {"allow_download": True, "allow_comments": False,
                                                "show_metadata": True}}
        password = None
        if kind == "password" or (kind == "once" and rng.random() < 0.3):
            password = "pw-%s" % os.urandom(6).hex()
            body["password"] = password
        if kind == "once":
            body["max_views"] = 1
            body["notify_on_view"] = True
        r = client.request(inst, "link_create", "POST", "/v1/share-links", expect=(201,), auth=task.owner.key,
                           json_body=body)
        if r is None or not r.ok:
            return None
        data = r.data()
        if data["view_count"] != 0 or data["status"] != "active" or data["password_protected"] != bool(password):
            self.metrics.mismatch(inst, "link_create", "new link %s: %s" % (data["share_link_id"], data))  # type: ignore
        link = Link(data["share_link_id"], kind, task, urllib.parse.urlsplit(data["url"]).path,
                    urllib.parse.urlsplit(data["short_url"]).path, password,
                    budget=1 if kind == "once" else rng.randint(2, 10))
        with self.lock:
            self.links[link.id] = link
            if kind != "once":
                self.active.append(link)
                if len(self.active) > 150:
                    self.retire_locked(self.active[0])
        return link

    def retire_locked(self, link: Link) -> None:
        if link.retired:
            return
        link.retired = True
        if link in self.active:
            self.active.remove(link)
        self.verify_queue.append(link)

    def take_link(self, rng: random.Random, kinds: Tuple[str, ...], need_files: bool = False) -> Optional[Link]:
        with self.lock:
            candidates = [l for l in self.active if l.kind in kinds and not l.retired and
                          (not need_files or l.task.artifacts)]
            if not candidates:
                return None
            link = rng.choice(candidates[-60:])
            link.inflight += 1
            return link

    def done_with(self, link: Link, successes: int = 0) -> None:
        with self.lock:
            link.inflight -= 1
            link.successes += successes
            if self.args.fault == "count-view-twice" and successes and not getattr(self, "_faulted", False):
                self._faulted = True  # self-test: one view counted twice by the load
                link.successes += 1
            if link.successes >= link.budget:
                self.retire_locked(link)

    def check_view(self, inst: str, op: str, link: Link, r: Resp) -> None:
        """What a JSON view must show: the task's public outputs and files, and a view
        count no other view got."""
        data = r.data()
        task = link.task
        problems = []
        if len(data.get("outputs") or []) != task.public_outputs:
            problems.append("%d outputs, expected %d" % (len(data.get("outputs") or []), task.public_outputs))
        if len(data.get("artifacts") or []) != len(task.artifacts):
            problems.append("%d files, expected %d" % (len(data.get("artifacts") or []), len(task.artifacts)))
        with self.lock:
            count = data.get("view_count")
            if count in link.counts_seen:
                problems.append("view_count %s answered twice" % count)
            link.counts_seen.add(count)
        if problems:
            self.metrics.mismatch(inst, op, "link %s: %s" % (link.id, "; ".join(problems)))  # type: ignore

    def view_headers(self, link: Link) -> Dict[str, str]:
        return {"X-Share-Password": link.password} if link.password else {}

    def op_view_json(self, client: Client, rng: random.Random, inst: str) -> None:
        link = self.take_link(rng, ("plain", "password"))
        if link is None:
            return self.op_create_link(client, rng, inst)
        self.metrics.op("view_json")  # type: ignore[union-attr]
        ok = 0
        try:
            r = client.request(inst, "view_json", "GET", link.token_path, expect=(200,), ip=rng.choice(VIEWER_IPS),
                               ua=rng.choice(USER_AGENTS), headers=self.view_headers(link))
            if r is not None and r.ok:
                ok = 1
                self.check_view(inst, "view_json", link, r)
        finally:
            self.done_with(link, ok)

    def op_view_html(self, client: Client, rng: random.Random, inst: str) -> None:
        link = self.take_link(rng, ("plain", "password"))
        if link is None:
            return self.op_create_link(client, rng, inst)
        self.metrics.op("view_html")  # type: ignore[union-attr]
        ok = 0
        ip, ua = rng.choice(VIEWER_IPS), rng.choice(USER_AGENTS)
        try:
            if link.password is None:
                r = client.request(inst, "view_page", "GET", link.token_path, expect=(200,), ip=ip, ua=ua,
                                   accept="text/html")
                ok = int(r is not None and r.ok)
            elif rng.random() < 0.4:
                # The password form: shown without spending a view.
                client.request(inst, "view_page_form", "GET", link.token_path, expect=(200,), ip=ip, ua=ua,
                               accept="text/html")
            else:
                form = urllib.parse.urlencode({"password": link.password}).encode()
                r = client.request(inst, "view_page_unlock", "POST", link.token_path, expect=(200,), ip=ip, ua=ua,
                                   accept="text/html", body=form, content_type="application/x-www-form-urlencoded")
                ok = int(r is not None and r.ok)
        finally:
            self.done_with(link, ok)

    def op_view_md(self, client: Client, rng: random.Random, inst: str) -> None:
        link = self.take_link(rng, ("plain", "password"))
        if link is None:
            return self.op_create_link(client, rng, inst)
        self.metrics.op("view_md")  # type: ignore[union-attr]
        ok = 0
        try:
            r = client.request(inst, "view_markdown", "GET", link.token_path + ".md", expect=(200,),
                               ip=rng.choice(VIEWER_IPS), ua=rng.choice(USER_AGENTS), accept="text/markdown",
                               headers=self.view_headers(link))
            if r is not None and r.ok:
                ok = 1
                if not r.body.startswith(b"# "):
                    self.metrics.mismatch(inst, "view_markdown", "markdown of %s starts %r" % (link.id, r.body[:40]))  # type: ignore
        finally:
            self.done_with(link, ok)

    def op_download_shared(self, client: Client, rng: random.Random, inst: str) -> None:
        link = self.take_link(rng, ("plain", "password"), need_files=True)
        if link is None:
            return self.op_view_json(client, rng, inst)
        self.metrics.op("download_shared")  # type: ignore[union-attr]
        ok = 0
        ip, ua = rng.choice(VIEWER_IPS), rng.choice(USER_AGENTS)
        try:
            r = client.request(inst, "view_json", "GET", link.token_path, expect=(200,), ip=ip, ua=ua,
                               headers=self.view_headers(link))
            if r is None or not r.ok:
                return
            ok = 1
            self.check_view(inst, "view_json", link, r)
            files = r.data().get("artifacts") or []
            if not files:
                return
            f = rng.choice(files)
            parts = urllib.parse.urlsplit(f["download_url"])
            other = self.other(inst)
            d = client.request(other, "view_download", "GET", parts.path + "?" + parts.query, expect=(200,),
                               ip=ip, ua=ua, accept="*/*", timeout=UPLOAD_TIMEOUT)
            if d is not None and d.ok:
                known = {a[1]: a[2] for a in link.task.artifacts}
                if digest(d.body) != f["sha256"] or f["sha256"] not in known:
                    self.metrics.mismatch(other, "view_download", "file %s of %s: %d bytes, sha256 %s" % (  # type: ignore
                        f["name"], link.id, len(d.body), digest(d.body)[:12]))
        finally:
            self.done_with(link, ok)

    def op_wrong_password(self, client: Client, rng: random.Random, inst: str) -> None:
        with self.lock:
            candidates = [l for l in self.active if l.kind == "password" and not l.retired
                          and l.wrong_total < 12 and not l.guessing]
            link = rng.choice(candidates) if candidates else None
            if link is not None:
                link.inflight += 1
                link.guessing = True  # one guesser at a time per link: its lockout is predictable
        if link is None:
            return self.op_create_link(client, rng, inst)
        self.metrics.op("wrong_password")  # type: ignore[union-attr]
        try:
            if rng.random() < 0.15:
                client.request(inst, "password_missing", "GET", link.token_path,
                               expect={401: ("PASSWORD_REQUIRED",)}, ip=rng.choice(VIEWER_IPS))
                return
            # Now and then one client keeps guessing until the limiter stops it: 5 wrong
            # passwords per client and link in 10 minutes, then 429 (the count is kept in
            # the database, so the guesses alternate between instances). Both answers are
            # what the API documents; when each comes is checked exactly.
            ip = rng.choice(ATTACKER_IPS)
            tries = 6 if rng.random() < 0.2 else 1
            for i in range(tries):
                if link.wrong_total >= 14:  # far from the link's own limit (20 from anyone)
                    break
                link.wrong_total += 1
                target = inst if i % 2 == 0 else self.other(inst)
                times = link.wrong_times.setdefault(ip, [])
                now = time.monotonic()
                ambiguous = any(now - t > 540 for t in times)  # near the edge of the window
                expected = 429 if len(times) >= 5 else 401
                r = client.request(target, "password_wrong", "GET", link.token_path,
                                   expect={401: ("INVALID_PASSWORD",), 429: ("TOO_MANY_ATTEMPTS",)}, ip=ip,
                                   ua=rng.choice(USER_AGENTS), headers={"X-Share-Password": "wrong-%d" % rng.randint(0, 10**6)})
                if r is None or not r.ok:
                    continue
                self.metrics.outcome("wrong_password_%d" % r.status)  # type: ignore[union-attr]
                if r.status == 401:
                    times.append(now)
                elif not r.headers.get("retry-after"):
                    self.metrics.mismatch(target, "password_wrong", "429 without Retry-After")  # type: ignore
                if not ambiguous and r.status != expected:
                    self.count_failure("password limiter, link %s, client %s: %d after %d refused wrong passwords, "
                                       "expected %d" % (link.id, ip, r.status, len(times) - (r.status == 401), expected))
        finally:
            with self.lock:
                link.guessing = False
            self.done_with(link, 0)

    def op_one_time_race(self, client: Client, rng: random.Random, inst: str) -> None:
        with self.lock:
            tasks = list(self.finished)
        if not tasks:
            return self.op_finish_task(client, rng, inst)
        self.metrics.op("one_time_race")  # type: ignore[union-attr]
        task = rng.choice(tasks)
        link = self.create_link(client, rng, inst, task, "once")
        if link is None:
            return
        barrier = threading.Barrier(RACERS)
        results: List[Optional[int]] = [None] * RACERS
        seed = rng.getrandbits(32)

        def racer(i: int) -> None:
            r_rng = random.Random(seed + i)
            r_client = self.client()
            target = self.instances[i % len(self.instances)]
            try:
                r_client._conn(target, REQUEST_TIMEOUT).connect()
            except OSError:
                pass
            ip, ua = r_rng.choice(VIEWER_IPS), r_rng.choice(USER_AGENTS)
            try:
                barrier.wait(timeout=REQUEST_TIMEOUT)
            except threading.BrokenBarrierError:
                pass
            try:
                if i % 2 == 0:
                    r = r_client.request(target, "race_json", "GET", link.token_path,
                                         expect={200: None, 404: ("SHARE_LINK_NOT_FOUND",)}, ip=ip, ua=ua,
                                         headers=self.view_headers(link))
                else:
                    form = urllib.parse.urlencode({"password": link.password} if link.password else {}).encode()
                    r = r_client.request(target, "race_reveal", "POST", link.token_path, expect=(200, 404),
                                         ip=ip, ua=ua, accept="text/html", body=form,
                                         content_type="application/x-www-form-urlencoded")
                results[i] = r.status if (r is not None and r.ok) else None
            finally:
                r_client.close()

        racers = [threading.Thread(target=racer, args=(i,), daemon=True) for i in range(RACERS)]
        for t in racers:
            t.start()
        for t in racers:
            t.join(timeout=REQUEST_TIMEOUT * 2 + 5)
        winners = sum(1 for s in results if s == 200)
        complete = all(s is not None for s in results)
        with self.lock:
            link.successes = winners
            link.winners = winners
            if self.args.fault == "count-view-twice" and winners and not getattr(self, "_faulted", False):
                self._faulted = True
                link.successes += 1
            self.retire_locked(link)
        self.metrics.outcome("race_winners_%d" % winners)  # type: ignore[union-attr]
        if complete and winners != 1:
            self.count_failure("one-time link %s: %d of %d racers got it (%s)" % (link.id, winners, RACERS, results))
        if winners >= 1:
            self.expect_event(client, task.owner, "share_link.viewed", link.id)
            self.expect_event(client, task.owner, "share_link.expired", link.id)

    def op_short_url(self, client: Client, rng: random.Random, inst: str) -> None:
        link = self.take_link(rng, ("plain", "password"))
        if link is None:
            return self.op_create_link(client, rng, inst)
        self.metrics.op("short_url")  # type: ignore[union-attr]
        try:
            r = client.request(inst, "short_url", "GET", link.short_path, expect=(303,), ip=rng.choice(VIEWER_IPS),
                               ua=rng.choice(USER_AGENTS), accept="text/html")
            if r is not None and r.ok and not r.headers.get("location", "").endswith(link.token_path):
                self.metrics.mismatch(inst, "short_url", "short URL of %s leads to %s" % (  # type: ignore
                    link.id, redact_path(r.headers.get("location", ""))))
        finally:
            self.done_with(link, 0)

    def op_update_link(self, client: Client, rng: random.Random, inst: str) -> None:
        link = self.take_link(rng, ("plain", "password"))
        if link is None:
            return self.op_create_link(client, rng, inst)
        self.metrics.op("update_link")  # type: ignore[union-attr]
        try:
            client.request(inst, "link_update", "PATCH", "/v1/share-links/" + link.id, expect=(200,),
                           auth=link.task.owner.key, json_body={"title": "soak link, renamed %d" % self.next_seq()})
        finally:
            self.done_with(link, 0)

    def op_revoke_link(self, client: Client, rng: random.Random, inst: str) -> None:
        with self.lock:
            candidates = [l for l in self.active if not l.retired and l.inflight == 0 and l.successes > 0]
            link = rng.choice(candidates) if candidates else None
            if link is not None:
                link.retired = True  # no more views: it is about to go
                self.active.remove(link)
                link.inflight += 1
        if link is None:
            return
        self.metrics.op("revoke_link")  # type: ignore[union-attr]
        try:
            r = client.request(inst, "link_revoke", "DELETE", "/v1/share-links/" + link.id, expect=(200,),
                               auth=link.task.owner.key)
            if r is None or not r.ok:
                return
            link.revoked = True
            self.expect_event(client, link.task.owner, "share_link.revoked", link.id)
            # Revoked means gone at once, on every instance.
            client.request(self.other(inst), "view_revoked", "GET", link.token_path,
                           expect={404: ("SHARE_LINK_NOT_FOUND",)}, ip=rng.choice(VIEWER_IPS),
                           ua=rng.choice(USER_AGENTS), headers=self.view_headers(link))
        finally:
            with self.lock:
                link.inflight -= 1
                self.verify_queue.append(link)

    def op_verify_links(self, client: Client, rng: random.Random, inst: str) -> None:
        batch = []
        with self.lock:
            for _ in range(len(self.verify_queue)):
                link = self.verify_queue.popleft()
                if link.inflight:
                    self.verify_queue.append(link)
                    continue
                batch.append(link)
                if len(batch) >= 3:
                    break
        if not batch:
            return self.op_owner_reads(client, rng, inst)
        self.metrics.op("verify_links")  # type: ignore[union-attr]
        for link in batch:
            self.verify_link(client, inst, link)

    def verify_link(self, client: Client, inst: str, link: Link) -> bool:
        """The server's count of a link's views against the views the load got."""
        owner = link.task.owner
        r = client.request(inst, "link_get", "GET", "/v1/share-links/" + link.id, expect=(200,), auth=owner.key)
        a = client.request(self.other(inst), "link_analytics", "GET", "/v1/share-links/%s/analytics" % link.id,
                           expect=(200,), auth=owner.key)
        if r is None or a is None or not r.ok or not a.ok:
            return False
        data, analytics = r.data(), a.data()
        expected_status = "revoked" if link.revoked else ("expired" if link.kind == "once" and link.successes else None)
        problems = []
        if data["view_count"] != link.successes:
            problems.append("view_count %d" % data["view_count"])
        if analytics["total_views"] != link.successes:
            problems.append("analytics total_views %d" % analytics["total_views"])
        if expected_status and data["status"] != expected_status:
            problems.append("status %s, expected %s" % (data["status"], expected_status))
        seen_counts = [c for c in link.counts_seen if isinstance(c, int)]
        if seen_counts and max(seen_counts) > data["view_count"]:
            problems.append("a view answered view_count %d" % max(seen_counts))
        with self.lock:
            link.verified = True
        if problems:
            self.count_failure("link %s (%s): %s; the load got %d successful views" % (
                link.id, link.kind, ", ".join(problems), link.successes))
            return False
        return True

    def op_owner_reads(self, client: Client, rng: random.Random, inst: str) -> None:
        self.metrics.op("owner_reads")  # type: ignore[union-attr]
        owner = rng.choice(self.owners)
        choice = rng.random()
        if choice < 0.35:
            client.request(inst, "task_list", "GET", "/v1/tasks?limit=20", expect=(200,), auth=owner.key)
        elif choice < 0.7:
            client.request(inst, "link_list", "GET", "/v1/share-links?limit=20&status=active", expect=(200,),
                           auth=owner.key)
        else:
            with self.lock:
                tasks = list(self.finished)[-50:]
            if tasks:
                task = rng.choice(tasks)
                r = client.request(inst, "event_list", "GET", "/v1/tasks/%s/events?after=0&limit=1000" % task.id,
                                   expect=(200,), auth=task.owner.key)
                if r is not None and r.ok:
                    seqs = [e["seq"] for e in r.data()["events"]]
                    if seqs != sorted(task.events):
                        self.metrics.mismatch(inst, "event_list", "task %s lists seqs %s…, the load appended %d" % (  # type: ignore
                            task.id, seqs[:5], len(task.events)))

    # Share codes and live streams

    def sse_viewer(self, index: int) -> None:
        rng = random.Random(self.args.seed * 7919 + index + (0 if self.kind == "sqlite" else 99))
        client = self.client()
        try:
            while not self.stop.wait(rng.uniform(0.5, 3.0)):
                with self.lock:
                    tasks = [t for t in self.live if t.code]
                    task = rng.choice(tasks) if tasks else None
                if task is None:
                    continue
                try:
                    self.follow(client, rng, task)
                except Exception as err:
                    self.metrics.mismatch(self.other(task.home), "sse", "harness error: %s\n%s" % (  # type: ignore
                        err, traceback.format_exc(limit=3)))
        finally:
            client.close()

    def follow(self, client: Client, rng: random.Random, task: Task) -> None:
        """A viewer: exchanges the task's share code, follows its stream through the
        instance other than the one its events are appended through, reads a few
        events with a deadline, and drops."""
        assert self.metrics is not None
        inst = self.other(task.home)
        ip, ua = rng.choice(VIEWER_IPS), rng.choice(USER_AGENTS)
        self.metrics.op("sse_viewer")
        r = client.request(inst, "code_exchange", "GET", "/v1/auth/share?code=" + urllib.parse.quote(task.code or ""),
                           expect=(200,), ip=ip, ua=ua)
        if r is None or not r.ok:
            return
        token = r.json()["token"]
        self.expect_event(client, task.owner, "task_share.accessed", task.id)
        with self.lock:
            last = max(task.events) if task.events else 0
        after = max(0, last - rng.randint(0, 3))
        want = (last - after) + rng.randint(1, 4)
        host, port = self.servers[self.instances.index(inst)].addr  # type: ignore[misc]
        conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
        with self.lock:
            self.streams.add(conn)
        started = time.monotonic()
        received: List[Tuple[int, str, dict, float]] = []
        ended = False
        reason = "not opened"
        try:
            try:
                conn.request("GET", "/v1/tasks/%s/events/stream?after=%d" % (task.id, after),
                             headers={"Authorization": "Bearer " + token, "Accept": "text/event-stream",
                                      "X-Forwarded-For": ip, "User-Agent": ua})
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as err:
                if not self.stop.is_set():  # not the load's end cutting it off
                    kind = "timeout" if isinstance(err, (socket.timeout, TimeoutError)) else "connection"
                    self.metrics.request(inst, "sse_open", "GET", time.monotonic() - started, None, kind, repr(err))
                return
            ok = resp.status == 200
            self.metrics.request(inst, "sse_open", "GET", time.monotonic() - started, resp.status,
                                 None if ok else ("http_5xx" if resp.status >= 500 else "unexpected_status"),
                                 None if ok else "stream -> %d %s" % (resp.status, resp.read(200)))
            if not ok:
                return
            deadline = time.monotonic() + SSE_DEADLINE
            reason = "enough"
            fields: Dict[str, str] = {}
            data_lines: List[str] = []
            while len(received) < want and not ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = "deadline"
                    break
                if conn.sock is not None:
                    conn.sock.settimeout(remaining)
                try:
                    line = resp.readline()
                except (socket.timeout, TimeoutError):
                    reason = "deadline"
                    break
                except (OSError, http.client.HTTPException) as err:
                    if not self.stop.is_set():
                        self.metrics.error(inst, "sse_read", "connection", repr(err))
                    reason = "broken"
                    break
                if not line:
                    if not self.stop.is_set():
                        self.metrics.mismatch(inst, "sse_read", "stream of %s closed without end" % task.id)
                    reason = "closed"
                    break
                text = line.decode("utf-8").rstrip("\r\n")
                if text == "":
                    if data_lines or fields:
                        kind = fields.get("event", "message")
                        if kind == "end":
                            ended = True
                        elif kind == "revoked":
                            self.metrics.mismatch(inst, "sse_read", "stream of %s revoked" % task.id)
                            ended = True
                        else:
                            try:
                                payload = json.loads("\n".join(data_lines))
                            except ValueError:
                                payload = {}
                            received.append((int(fields.get("id", "0") or 0), kind, payload, time.monotonic()))
                    fields, data_lines = {}, []
                elif text.startswith(":"):
                    continue
                else:
                    name, _, value = text.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data_lines.append(value)
                    else:
                        fields[name] = value
        finally:
            conn.close()  # the viewer drops, whatever it was reading
            with self.lock:
                self.streams.discard(conn)
        if self.stop.is_set() and reason in ("closed", "broken"):
            reason = "stopped"  # the load ended under it
        stopped = time.monotonic()
        self.check_stream(inst, task, after, last, received, ended, reason, stopped)

    def check_stream(self, inst: str, task: Task, after: int, last: int, received: List[Tuple[int, str, dict, float]],
                     ended: bool, reason: str, stopped: float) -> None:
        assert self.metrics is not None
        # The writer records an event once its 201 arrives: wait a moment for any the
        # stream delivered first.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with self.lock:
                unknown = [s for s, _, _, _ in received if s not in task.events]
            if not unknown:
                break
            time.sleep(0.05)
        problems = []
        with self.lock:
            events = dict(task.events)
            status = task.status
        seqs = [s for s, _, _, _ in received]
        if seqs != sorted(set(seqs)):
            problems.append("out of order or repeated: %s" % seqs[:12])
        for seq, kind, payload, at in received:
            known = events.get(seq)
            if known is None:
                problems.append("seq %d was never appended" % seq)
                continue
            private, content_digest, sent, _acked = known
            if private:
                problems.append("private event %d shown to a viewer" % seq)
            if payload.get("content") is None or digest(payload["content"].encode()) != content_digest:
                problems.append("event %d content differs" % seq)
            if seq > last:  # appended while the viewer followed: live, from the append's start
                self.sse_latency.append(max(0.0, at - sent))
        # No gaps: every public event between `after` and the last one received
        # reached the viewer; so did every one acknowledged well before it stopped
        # waiting (SSE_GRACE), and all of them when the stream ended.
        public = sorted(s for s, (private, _, _, _) in events.items() if s > after and not private)
        top = max(seqs) if seqs else after
        must = [s for s in public if s <= top]
        if ended:
            must = public
        elif reason in ("deadline", "closed"):
            must += [s for s in public if s > top and events[s][3] <= stopped - SSE_GRACE]
        missing = sorted(set(must) - set(seqs))
        if missing:
            problems.append("missing %s (after=%d, received %s, stopped: %s)" % (missing[:8], after, seqs[:8], reason))
        if ended and status == "running":
            problems.append("end while the task runs")
        self.sse["sessions"] += 1
        self.sse["events"] += len(received)
        self.sse["ended"] += int(ended)
        if problems:
            self.metrics.mismatch(inst, "sse_check", "task %s: %s" % (task.id, "; ".join(problems)))


    # -- sampling -----------------------------------------------------------

    def db_size_mb(self) -> Optional[float]:
        try:
            if self.kind == "sqlite":
                total = 0
                for suffix in ("", "-wal", "-shm"):
                    p = self.sqlite_path + suffix
                    if os.path.exists(p):
                        total += os.path.getsize(p)
                return total / 1e6
            return int(psql(self.pg_admin, "SELECT pg_database_size('%s')" % self.pg_name, timeout=20)) / 1e6
        except Exception:
            return None

    def sample_loop(self) -> None:
        """Reads each server's memory, descriptors and threads every second, and
        every SAMPLE_SECONDS writes a row per server: RSS as the median of the
        window's readings (and its max: password hashing allocates 19 MiB a time,
        briefly), descriptors, threads and the RSS's parts as read at the end of
        the window."""
        path = os.path.join(self.out, "samples-%s.csv" % self.kind)
        columns = ["utc", "t_min", "phase", "instance", "pid", "rss_mb", "rss_max_mb", "rss_floor_mb", "fds", "fds_max", "db_fds", "threads",
                   "rss_anon_mb", "rss_file_mb", "cpu_pct", "cache_mb", "links_cached", "db_mb", "requests", "p50_ms", "p99_ms", "errors"] + list(ERROR_KINDS)
        readings: Dict[str, List[Tuple[float, int, int, int, Optional[float], Optional[float]]]] = {
            s.name: [] for s in self.servers}
        recent: Dict[str, collections.deque] = {s.name: collections.deque() for s in self.servers}
        warm_end = self.t0 + WARMUP_FRACTION * self.args.minutes * 60.0
        for server in self.servers:
            server.cpu_pct()
        with open(path, "w") as f:
            f.write(",".join(columns) + "\n")
            k = 0
            while self.phase != "done":
                k += 1
                at = self.t0 + k * SAMPLE_SECONDS
                while True:
                    for server in self.servers:
                        m = server.memory()
                        if m is not None:
                            readings[server.name].append(m)
                            floor = recent[server.name]
                            floor.append((time.monotonic(), m[0]))
                            # The lowest of the last 60 s, never reaching back into the warm-up.
                            since = time.monotonic() - FLOOR_SECONDS
                            if time.monotonic() > warm_end:
                                since = max(since, warm_end)
                            while floor and floor[0][0] < since:
                                floor.popleft()
                    wait = min(1.0, at - time.monotonic())
                    if wait <= 0 or self.phase == "done":
                        break
                    time.sleep(wait)
                if self.phase == "done":
                    return
                window = self.metrics.take_window()  # type: ignore[union-attr]
                db = self.db_size_mb()
                t_min = (at - self.t0) / 60.0
                phase = "load" if t_min <= self.args.minutes + 1e-6 else "drain"
                for server in self.servers:
                    got = readings[server.name]
                    readings[server.name] = []
                    w = window[server.name]
                    lat = [x * 1000.0 for x in w["lat"]]
                    cache_mb, links_cached = server.caches()
                    row = {"utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "t_min": round(t_min, 3), "phase": phase, "instance": server.name,
                           "pid": server.proc.pid if server.proc else None,  # type: ignore[union-attr]
                           "rss_mb": sorted(g[0] for g in got)[len(got) // 2] if got else None,
                           "rss_max_mb": max(g[0] for g in got) if got else None,
                           "rss_floor_mb": min(v for _, v in recent[server.name]) if recent[server.name] else None,
                           "fds": got[-1][1] if got else None,
                           "fds_max": max(g[1] for g in got) if got else None,
                           "db_fds": got[-1][2] if got else None,
                           "threads": got[-1][3] if got else None,
                           "rss_anon_mb": got[-1][4] if got else None,
                           "rss_file_mb": got[-1][5] if got else None,
                           "cpu_pct": server.cpu_pct(), "cache_mb": cache_mb, "links_cached": links_cached,
                           "db_mb": db, "requests": len(lat),
                           "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                           "errors": sum(w["errors"].values())}
                    for kind in ERROR_KINDS:
                        row[kind] = w["errors"].get(kind, 0)
                    self.rows.append(row)
                    f.write(",".join("" if row[c] is None else (("%.3f" % row[c]) if isinstance(row[c], float) else str(row[c]))
                                     for c in columns) + "\n")
                f.flush()

    # -- the end ------------------------------------------------------------

    def final_verification(self) -> None:
        """Every link not verified during the load, now that no view is in flight."""
        client = self.client()
        try:
            with self.lock:
                todo = [l for l in self.links.values() if not l.verified or l.revoked]
            for i, link in enumerate(todo):
                self.verify_link(client, self.instances[i % len(self.instances)], link)
        finally:
            client.close()

    def db_delivery_counts(self) -> Dict[str, int]:
        sql = "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
        counts: Dict[str, int] = {}
        if self.kind == "sqlite":
            db = sqlite3.connect("file:%s?mode=ro" % self.sqlite_path, uri=True, timeout=10)
            try:
                for status, n in db.execute(sql):
                    counts[status] = n
            finally:
                db.close()
        else:
            text = psql(self.database_url, sql)
            for line in text.splitlines():
                status, n = line.split("|")
                counts[status] = int(n)
        return counts

    def drain(self) -> dict:
        """Waits, polling, until no delivery is pending and the receiver has
        acknowledged every one it got (or the deadline passes)."""
        started = time.monotonic()
        deadline = started + self.args.drain_timeout
        quiet = 0
        state = {}
        while True:
            try:
                counts = self.db_delivery_counts()
            except Exception as err:
                counts = {"error": str(err)}  # type: ignore[dict-item]
            pending = counts.get("pending", 0) if "error" not in counts else None
            seen = self.receiver.snapshot()
            unacked = sum(1 for d in seen.values() if not d.acked)
            missing = self.missing_events(seen)
            state = {"pending": pending, "unacknowledged": unacked, "missing_events": missing,
                     "db_deliveries": counts, "seconds": round(time.monotonic() - started, 1)}
            if pending == 0 and unacked == 0 and missing == 0:
                state["drained"] = True
                return state
            if pending == 0 and unacked == 0:
                quiet += 1
                if quiet >= 5:  # the servers have nothing left to send
                    state["drained"] = True
                    return state
            else:
                quiet = 0
            if time.monotonic() > deadline:
                state["drained"] = False
                return state
            time.sleep(1.0)

    def missing_events(self, seen: Dict[Tuple[str, str], Delivery]) -> int:
        got = self.events_received(seen)
        with self.lock:
            expected = dict(self.expected_events)
        return sum(max(0, n - got.get(key, 0)) for key, n in expected.items())

    def events_received(self, seen: Dict[Tuple[str, str], Delivery]) -> Dict[Tuple[str, str, str], int]:
        owner_of = {e.key: e.owner.name for o in self.owners for e in o.endpoints}
        ids: Dict[Tuple[str, str, str], set] = collections.defaultdict(set)
        for d in seen.values():
            ids[(owner_of.get(d.endpoint, "?"), d.event_type, d.subject)].add(d.event_id)
        return {k: len(v) for k, v in ids.items()}

    def check_deliveries(self, drained: dict) -> Tuple[bool, List[str], dict]:
        problems: List[str] = []
        if not drained.get("drained"):
            problems.append("not drained after %s s: %s" % (self.args.drain_timeout, drained))
        seen = self.receiver.snapshot()
        client = self.client()
        listed_events = 0
        listed_attempts = 0
        endpoints = 0
        try:
            for owner in self.owners:
                for endpoint in owner.endpoints:
                    endpoints += 1
                    r = client.request(self.instances[endpoints % len(self.instances)], "webhook_deliveries", "GET",
                                       "/v1/webhooks/%s/deliveries?limit=%d" % (endpoint.webhook_id, LIST_LIMIT),
                                       expect=(200,), auth=owner.key)
                    if r is None or not r.ok:
                        problems.append("could not list deliveries of %s" % endpoint.webhook_id)
                        continue
                    attempts = r.data()["deliveries"]
                    listed_attempts += len(attempts)
                    if len(attempts) >= LIST_LIMIT:
                        problems.append("%s lists %d attempts: older ones are beyond the list" % (endpoint.key, len(attempts)))
                    by_event: Dict[str, List[dict]] = collections.defaultdict(list)
                    for a in attempts:
                        by_event[a["event_id"]].append(a)
                    listed_events += len(by_event)
                    for event_id, tries in by_event.items():
                        status = tries[0]["delivery_status"]
                        got = seen.get((endpoint.key, event_id))
                        if status != "delivered":
                            problems.append("%s %s: delivery %s after %d attempts" % (endpoint.key, event_id, status, len(tries)))
                        if tries[0]["attempts"] != len(tries):
                            problems.append("%s %s: attempts %d but %d listed" % (endpoint.key, event_id, tries[0]["attempts"], len(tries)))
                        if got is None:
                            problems.append("%s %s: listed (%s) but never received" % (endpoint.key, event_id, tries[0]["event_type"]))
                        elif got.hits != len(tries):
                            problems.append("%s %s: %d attempts listed, the receiver got %d requests" % (
                                endpoint.key, event_id, len(tries), got.hits))
                        ok_codes = [a["status_code"] for a in tries if a["status_code"] and 200 <= a["status_code"] < 300]
                        if status == "delivered" and len(ok_codes) != 1:
                            problems.append("%s %s: delivered with %d 2xx attempts" % (endpoint.key, event_id, len(ok_codes)))
                    for (key, event_id), d in seen.items():
                        if key != endpoint.key:
                            continue
                        if d.acked and (event_id not in by_event or by_event[event_id][0]["delivery_status"] != "delivered"):
                            problems.append("%s %s: acknowledged with 2xx, not shown delivered" % (key, event_id))
                        if not any(signature_ok(endpoint.secret, event_id, ts, body, sig) for ts, body, sig in d.signed):
                            problems.append("%s %s: bad signature" % (key, event_id))
        finally:
            client.close()
        got = self.events_received(seen)
        with self.lock:
            expected = dict(self.expected_events)
        wrong = 0
        for key in set(expected) | set(got):
            if expected.get(key, 0) != got.get(key, 0):
                wrong += 1
                if wrong <= 10:
                    problems.append("%s %s of %s: the load caused %d, the receiver got %d distinct ids" % (
                        key[0], key[1], key[2], expected.get(key, 0), got.get(key, 0)))
        if wrong > 10:
            problems.append("… %d event kinds and subjects in all differ" % wrong)
        if self.receiver.malformed:
            problems.extend(self.receiver.malformed[:5])
        figures = {"endpoints": endpoints, "events_expected": sum(expected.values()),
                   "deliveries_received": len(seen), "requests_received": self.receiver.requests,
                   "answered_500": self.receiver.failed, "events_listed": listed_events,
                   "attempts_listed": listed_attempts, "drain": drained}
        return not problems, problems, figures

    # -- results ------------------------------------------------------------

    def growth_checks(self) -> Tuple[bool, List[dict]]:
        results = []
        ok = True
        load_min = (self.load_ended - self.load_started) / 60.0
        for server in self.servers:
            rows = [r for r in self.rows if r["instance"] == server.name and r["phase"] == "load"
                    and r["rss_floor_mb"] is not None and r["rss_mb"] is not None and r["fds"] is not None]
            res: Dict[str, Any] = {"instance": server.name, "samples": len(rows)}
            if len(rows) < 4:
                res.update(ok=False, reason="too few samples (%d)" % len(rows))
                ok = False
                results.append(res)
                continue
            cut = WARMUP_FRACTION * load_min
            warm = [r for r in rows if r["t_min"] <= cut] or rows[:1]
            rest = [r for r in rows if r["t_min"] > cut]
            if len(rest) < 3:
                rest = rows[len(warm):] or rows
            xs = [r["t_min"] for r in rest]

            def fit(ys: List[float]) -> Tuple[float, float, float]:
                mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
                sxx = sum((x - mx) ** 2 for x in xs)
                slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
                return slope, slope * (xs[-1] - xs[0]), my

            slope, rise, my = fit([r["rss_floor_mb"] for r in rest])
            _, median_rise, median_mean = fit([r["rss_mb"] for r in rest])
            # Descriptors besides the pool's database files (those are bounded by its size).
            others = lambda r: r["fds"] - (r.get("db_fds") or 0)
            fd_base = sorted(others(r) for r in warm)[len(warm) // 2]
            fd_end = others(rest[-1])
            db_fds_max = max((r.get("db_fds") or 0) for r in rows)
            rss_ok = rise <= RSS_RISE_LIMIT * my
            fd_ok = fd_end <= fd_base + FD_RISE_LIMIT and db_fds_max <= DB_FDS_BOUND
            res.update(ok=rss_ok and fd_ok, rss_ok=rss_ok, fds_ok=fd_ok, rss_slope_mb_per_min=round(slope, 3),
                       rss_fitted_rise_mb=round(rise, 2), rss_mean_mb=round(my, 1),
                       rss_rise_pct=round(100.0 * rise / my, 2) if my else None,
                       rss_median_rise_pct=round(100.0 * median_rise / median_mean, 2) if median_mean else None,
                       fds_warmup_median=fd_base, fds_end=fd_end, db_fds_max=db_fds_max,
                       db_fds_bound=DB_FDS_BOUND)
            ok = ok and rss_ok and fd_ok
            results.append(res)
        return ok, results

    def series(self, name: str) -> dict:
        rows = [r for r in self.rows if r["instance"] == name]
        load = [r for r in rows if r["phase"] == "load"]

        def pick(key: str, rs: List[dict]) -> List[float]:
            return [r[key] for r in rs if r[key] is not None]

        rss, fds = pick("rss_mb", load), pick("fds", load)
        peaks = pick("rss_max_mb", load)
        return {"rss_mb": {"start": rss[0] if rss else None, "end": rss[-1] if rss else None,
                           "max": max(rss) if rss else None, "peak": max(peaks) if peaks else None},
                "fds": {"start": fds[0] if fds else None, "end": fds[-1] if fds else None,
                        "max": max(fds) if fds else None,
                        "after_drain": pick("fds", rows)[-1] if pick("fds", rows) else None},
                "cpu_pct_mean": (sum(pick("cpu_pct", load)) / len(pick("cpu_pct", load))) if pick("cpu_pct", load) else None}

    def finish(self, drained: dict) -> dict:
        assert self.metrics is not None
        growth_ok, growth = self.growth_checks()
        deliveries_ok, delivery_problems, delivery_figures = self.check_deliveries(drained)
        m = self.metrics
        lat = [x * 1000.0 for i in self.instances for x in m.all_lat[i]]
        load_rows = [r for r in self.rows if r["phase"] == "load" and r["p99_ms"] is not None]
        worst = max(load_rows, key=lambda r: r["p99_ms"]) if load_rows else None
        db_rows = [r["db_mb"] for r in self.rows if r["db_mb"] is not None and r["phase"] == "load"]
        links = list(self.links.values())
        once = [l for l in links if l.kind == "once"]
        viewed = [l for l in links if l.successes or l.kind == "once"]
        errors_total = sum(m.errors.values())
        minutes = (self.load_ended - self.load_started) / 60.0
        counts_ok = self.n_count_failures == 0
        result = {
            "backend": self.kind,
            "instances": self.instances,
            "binary": self.binary,
            "version": self.version,
            "cores": os.cpu_count(),
            "minutes": round(minutes, 2),
            "rate_target": self.args.rate,
            "ops": getattr(self, "paced_ops", 0) + m.ops.get("sse_viewer", 0),
            "ops_per_second": round(getattr(self, "paced_ops", 0) / (minutes * 60.0), 1) if minutes else None,
            "ops_by_kind": dict(m.ops),
            "late_ops": getattr(self, "late_ops", 0),
            "requests": sum(m.requests.values()),
            "requests_by_instance": dict(m.requests),
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else None,
            "worst_window_p99_ms": worst["p99_ms"] if worst else None,
            "worst_window_at_min": worst["t_min"] if worst else None,
            "db_mb": {"start": db_rows[0] if db_rows else None, "end": db_rows[-1] if db_rows else None},
            "servers": {i: self.series(i) for i in self.instances},
            "errors": {k: m.errors.get(k, 0) for k in ERROR_KINDS},
            "error_examples": m.examples,
            "statuses": dict(sorted(m.statuses.items())),
            "outcomes": dict(m.outcomes),
            "links": {"created": len(links), "viewed": len(viewed), "views_counted": sum(l.successes for l in links),
                      "one_time": len(once), "one_time_won_once": sum(1 for l in once if l.winners == 1),
                      "revoked": sum(1 for l in links if l.revoked),
                      "verified": sum(1 for l in links if l.verified)},
            "sse": {"sessions": self.sse["sessions"], "events": self.sse["events"], "ended": self.sse["ended"],
                    "live_delivery_p50_ms": (percentile(self.sse_latency, 50) or 0) * 1000 if self.sse_latency else None,
                    "live_delivery_p99_ms": (percentile(self.sse_latency, 99) or 0) * 1000 if self.sse_latency else None},
            "webhooks": delivery_figures,
            "checks": {
                "no_growth": {"ok": growth_ok, "rule": GROWTH_RULE, "instances": growth},
                "counts_exact": {"ok": counts_ok, "failures": self.n_count_failures,
                                 "examples": self.count_failures},
                "deliveries_attempted": {"ok": deliveries_ok, "problems": delivery_problems[:30],
                                         "problem_count": len(delivery_problems)},
                "no_errors": {"ok": errors_total == 0, "errors": errors_total},
            },
        }
        result["ok"] = all(c["ok"] for c in result["checks"].values())
        return result


GROWTH_RULE = ("per server process, over the load phase: the first %d %% of the time is warm-up; a "
               "least-squares line through the remaining RSS samples may rise at most %d %% of their mean "
               "over that span, and the last count of descriptors besides the SQLite pool's (its database "
               "files, bounded by its %d connections: at most %d) may exceed the warm-up median by at "
               "most %d. RSS is read every second; the line is fitted to its floor (each sample the lowest "
               "reading of the last %d s), which a leak raises but a buffer held for a while (Argon2id takes "
               "19 MiB per password hash) does not; the rise of the 10-s medians is reported beside it"
               % (int(WARMUP_FRACTION * 100), int(RSS_RISE_LIMIT * 100), DB_MAX_CONNECTIONS, DB_FDS_BOUND,
                  FD_RISE_LIMIT, FLOOR_SECONDS))


# ---------------------------------------------------------------------------
# The plot
# ---------------------------------------------------------------------------


def nice_step(span: float, ticks: int = 4) -> float:
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path: str, title: str, subtitle: str, rows: List[dict], instances: List[str],
              load_minutes: float) -> None:
    panels = [("rss_mb", "RSS (MB): median of each 10 s; dashed: highest 1-s reading; dotted: floor (lowest of 60 s)"),
              ("rss_anon_mb", "RSS's anonymous part (heap, stacks; MB), read at the end of each 10 s"),
              ("cache_mb", "bytes the pages, markdown and QR-code caches keep (MB); each is bounded"),
              ("links_cached", "links in the link cache (at most 10,000)"),
              ("fds", "open file descriptors"), ("db_mb", "database size (MB)"),
              ("p99_ms", "p99 latency of the requests of each 10 s (ms)"), ("errors", "errors per 10 s")]
    extra = {"rss_mb": "rss_max_mb"}
    floor_key = {"rss_mb": "rss_floor_mb"}
    colours = ["#1f77b4", "#d62728", "#2ca02c"]
    width, left, right = 820, 78, 150
    panel_h, gap, top = 120, 46, 100
    plot_w = width - left - right
    height = top + len(panels) * (panel_h + gap) + 20
    t_max = round(max([r["t_min"] for r in rows] + [load_minutes, 0.1]), 3)
    x_step = nice_step(t_max, 6)
    x_end = math.ceil(t_max / x_step - 1e-6) * x_step

    def x_of(t: float) -> float:
        return left + plot_w * t / x_end

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>' % (left, esc(title)),
           '<text x="%d" y="44" fill="#444">%s</text>' % (left, esc(subtitle))]
    lx = left
    for idx, inst in enumerate(instances):  # the legend, in a row under the title
        out.append('<line x1="%d" y1="62" x2="%d" y2="62" stroke="%s" stroke-width="2.5"/>' % (
            lx, lx + 22, colours[idx % len(colours)]))
        out.append('<text x="%d" y="66">%s</text>' % (lx + 28, esc(inst)))
        lx += 40 + 7 * len(inst)
    out.append('<rect x="%d" y="57" width="22" height="10" fill="#eee" stroke="#ccc"/>' % lx)
    out.append('<text x="%d" y="66">warm-up (first %d %% of the load), drain after it</text>' % (
        lx + 28, int(WARMUP_FRACTION * 100)))
    for p, (key, label) in enumerate(panels):
        y0 = top + p * (panel_h + gap)
        values = [r[key] for r in rows if r[key] is not None]
        if key in extra:
            values += [r[extra[key]] for r in rows if r.get(extra[key]) is not None]
        v_max = max(values) if values else 0
        if key == "errors":
            v_max = max(v_max, 1)
        integral = key in ("fds", "errors", "links_cached")
        step = nice_step(v_max * 1.05 if v_max else 1, 4)
        if integral:
            step = max(1.0, round(step))
        y_end = max(step, math.ceil((v_max * 1.05) / step) * step) if v_max else step * 4

        def y_of(v: float) -> float:
            return y0 + panel_h - panel_h * v / y_end

        out.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (left, y0 - 8, esc(label)))
        # Shading: warm-up (first 20 % of the load) and the drain after it.
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#eee"/>' % (
            x_of(0), y0, x_of(WARMUP_FRACTION * load_minutes) - x_of(0), panel_h))
        if t_max > load_minutes:
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#eee"/>' % (
                x_of(load_minutes), y0, x_of(t_max) - x_of(load_minutes), panel_h))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (left, y0, plot_w, panel_h))
        v = 0.0
        while v <= y_end + 1e-9:
            y = y_of(v)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y, left + plot_w, y))
            label_v = ("%d" % v) if step >= 1 else ("%.2g" % v)
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, y + 4, label_v))
            v += step
        t = 0.0
        while t <= x_end + 1e-9:
            x = x_of(t)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888"/>' % (x, y0 + panel_h, x, y0 + panel_h + 4))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (
                x, y0 + panel_h + 16, ("%g" % round(t, 2))))
            t += x_step
        out.append('<text x="%d" y="%d" text-anchor="end" fill="#444">minutes</text>' % (left + plot_w, y0 + panel_h + 30))
        for idx, inst in enumerate(instances):
            colour = colours[idx % len(colours)]
            pts = [(r["t_min"], r[key]) for r in rows if r["instance"] == inst and r[key] is not None]
            if not pts:
                continue
            if key == "errors":
                bar_w = max(2.0, plot_w * (SAMPLE_SECONDS / 60.0) / x_end / len(instances) - 1)
                for t_, v_ in pts:
                    if v_:
                        x = x_of(t_ - SAMPLE_SECONDS / 60.0) + idx * bar_w
                        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (
                            x, y_of(v_), bar_w, y0 + panel_h - y_of(v_), colour))
                continue
            out.append('<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>' % (
                colour, " ".join("%.1f,%.1f" % (x_of(t_), y_of(v_)) for t_, v_ in pts)))
            if key in extra:
                peaks = [(r["t_min"], r[extra[key]]) for r in rows if r["instance"] == inst and r.get(extra[key]) is not None]
                out.append('<polyline fill="none" stroke="%s" stroke-width="1" stroke-dasharray="4 3" '
                           'stroke-opacity="0.7" points="%s"/>' % (
                               colour, " ".join("%.1f,%.1f" % (x_of(t_), y_of(v_)) for t_, v_ in peaks)))
            if key in floor_key:
                floors = [(r["t_min"], r[floor_key[key]]) for r in rows
                          if r["instance"] == inst and r.get(floor_key[key]) is not None]
                out.append('<polyline fill="none" stroke="%s" stroke-width="1.4" stroke-dasharray="1 2.5" '
                           'points="%s"/>' % (colour, " ".join("%.1f,%.1f" % (x_of(t_), y_of(v_)) for t_, v_ in floors)))
            if len(pts) <= 40:
                for t_, v_ in pts:
                    out.append('<circle cx="%.1f" cy="%.1f" r="2" fill="%s"/>' % (x_of(t_), y_of(v_), colour))
        if key == "errors" and not values or (key == "errors" and max(values) == 0):
            out.append('<text x="%d" y="%d" fill="#2ca02c">no errors</text>' % (left + 8, y0 + 16))
        for idx, inst in enumerate(instances):  # each series' figures, right of its panel
            mine = [r[key] for r in rows if r["instance"] == inst and r[key] is not None]
            if not mine:
                continue
            digits = 0 if (integral or max(mine) >= 100) else 1
            text = ("total %d" % sum(mine)) if key == "errors" else ("max %s, last %s" % (
                fmt(float(max(mine)), digits), fmt(float(mine[-1]), digits)))
            out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (
                left + plot_w + 10, y0 + 40 + idx * 15, colours[idx % len(colours)], esc(text)))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def write_summary(out: str, results: List[dict], args: argparse.Namespace) -> bool:
    ok = all(r.get("ok") for r in results)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"ok": ok, "results": results, "growth_rule": GROWTH_RULE,
                   "started_utc": args.started_utc, "rate": args.rate, "minutes": args.minutes}, f, indent=2,
                  default=str)
    names = [r["backend"] for r in results]

    def per_instance(r: dict, fn) -> str:
        return " / ".join(fn(r["servers"][i]) for i in r["instances"])

    def mark(c: dict) -> str:
        return "pass" if c["ok"] else "**FAIL**"

    first = results[0] if results else {}
    lines = ["Soak of agentshare, %s UTC: %s min at %s operations/s per backend, %s; %s (%s), %s cores." % (
        args.started_utc, fmt(args.minutes, 0) if float(args.minutes).is_integer() else args.minutes, fmt(args.rate, 0),
        ", ".join("%s (%s)" % (r["backend"], " + ".join(r["instances"])) for r in results),
        first.get("version") or "agentshare", first.get("binary", "?"), first.get("cores", "?")), ""]
    header = "| | " + " | ".join(names) + " |"
    lines += [header, "|---" * (len(names) + 1) + "|"]
    rows = [
        ("load (minutes)", lambda r: fmt(r["minutes"], 1)),
        ("operations (per s)", lambda r: "%d (%s)%s" % (r["ops"], fmt(r["ops_per_second"], 1),
                                                         ", %d late" % r["late_ops"] if r.get("late_ops") else "")),
        ("requests", lambda r: "%d" % r["requests"]),
        ("p50 / p99 latency, whole run (ms)", lambda r: "%s / %s" % (fmt(r["p50_ms"]), fmt(r["p99_ms"]))),
        ("worst 10-s p99 (ms)", lambda r: "%s (at %s min)" % (fmt(r["worst_window_p99_ms"]), fmt(r["worst_window_at_min"], 1))),
        ("RSS start / end / max (MB; 10-s medians)", lambda r: per_instance(r, lambda s: "%s / %s / %s" % (
            fmt(s["rss_mb"]["start"]), fmt(s["rss_mb"]["end"]), fmt(s["rss_mb"]["max"])))),
        ("RSS highest 1-s reading (MB)", lambda r: per_instance(r, lambda s: fmt(s["rss_mb"]["peak"]))),
        ("RSS fitted rise after warm-up: floor (medians)", lambda r: " / ".join(
            "%s%% (%s%%)" % (fmt(g.get("rss_rise_pct")), fmt(g.get("rss_median_rise_pct")))
            for g in r["checks"]["no_growth"]["instances"])),
        ("fds start / end / max", lambda r: per_instance(r, lambda s: "%s / %s / %s" % (
            fmt(s["fds"]["start"]), fmt(s["fds"]["end"]), fmt(s["fds"]["max"])))),
        ("CPU, mean (% of a core)", lambda r: per_instance(r, lambda s: fmt(s["cpu_pct_mean"], 0))),
        ("database start / end (MB)", lambda r: "%s / %s" % (fmt(r["db_mb"]["start"]), fmt(r["db_mb"]["end"]))),
        ("links (one-time) / views counted", lambda r: "%d (%d) / %d" % (
            r["links"]["created"], r["links"]["one_time"], r["links"]["views_counted"])),
        ("SSE viewers / events / live delivery p99 (ms)", lambda r: "%d / %d / %s" % (
            r["sse"]["sessions"], r["sse"]["events"], fmt(r["sse"]["live_delivery_p99_ms"], 0))),
        ("webhook events / requests (500s) / endpoints", lambda r: "%d / %d (%d) / %d" % (
            r["webhooks"]["events_expected"], r["webhooks"]["requests_received"], r["webhooks"]["answered_500"],
            r["webhooks"]["endpoints"])),
        ("drained after (s)", lambda r: fmt(r["webhooks"]["drain"].get("seconds"), 1)),
        ("errors (status / 5xx / conn / timeout / mismatch)", lambda r: " / ".join(
            str(r["errors"][k]) for k in ERROR_KINDS)),
        ("1. no growth in RSS or fds", lambda r: mark(r["checks"]["no_growth"])),
        ("2. every count exact", lambda r: mark(r["checks"]["counts_exact"])),
        ("3. every delivery attempted", lambda r: mark(r["checks"]["deliveries_attempted"])),
        ("4. no errors", lambda r: mark(r["checks"]["no_errors"])),
    ]
    for label, fn in rows:
        cells = []
        for r in results:
            try:
                cells.append(fn(r))
            except Exception:
                cells.append("–")
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    lines += ["", "Growth rule: %s." % GROWTH_RULE]
    multi = ["%s: %s" % (r["backend"], " / ".join(r["instances"])) for r in results if len(r["instances"]) > 1]
    if multi:
        lines.append("Figures with \" / \" are per instance (%s); operations per second are the paced mix, "
                     "SSE viewers come on top." % "; ".join(multi))
    lines += ["", "Result: %s" % ("all checks passed" if ok else "**checks failed**")]
    for r in results:
        problems = []
        if r.get("error"):
            lines += ["", "%s: **the run broke**: %s" % (r["backend"], r["error"])]
            continue
        c = r["checks"]
        for g in c["no_growth"]["instances"]:
            if not g.get("ok"):
                problems.append("growth %s: %s" % (g["instance"], g))
        problems += ["count: " + e for e in c["counts_exact"]["examples"][:5]]
        problems += ["delivery: " + e for e in c["deliveries_attempted"]["problems"][:5]]
        problems += ["error: %(kind)s %(op)s %(detail)s" % e for e in r["error_examples"][:5]]
        if problems:
            lines += ["", "%s:" % r["backend"]] + ["- " + p.replace("\n", " ") for p in problems]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    print()
    print(text)
    return ok


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


class Interrupted(Exception):
    pass


_interrupted = False


def _interrupt(signum: int, frame: Any) -> None:
    """The first SIGINT/SIGTERM/SIGHUP unwinds the main thread (whose finally blocks
    stop the servers and drop the database); later ones wait for that cleanup."""
    global _interrupted
    if _interrupted:
        return
    _interrupted = True
    raise Interrupted("signal %d" % signum)


def run_backend(kind: str, args: argparse.Namespace, out: str) -> dict:
    """Runs one backend's soak; a run that breaks (a server dying, say) answers a
    failed result with the error, and still leaves its samples and plot."""
    backend = Backend(kind, args, out)
    result: dict = {"backend": kind, "ok": False}
    try:
        log(kind, "starting (%s)" % args.binary)
        backend.setup()
        log(kind, "load: %s min at %s operations/s, %d workers" % (args.minutes, args.rate, args.workers))
        backend.run(args.minutes)
        log(kind, "load done; verifying every link's count")
        backend.final_verification()
        log(kind, "waiting for webhook deliveries to drain")
        drained = backend.drain()
        log(kind, "drain: %s" % {k: v for k, v in drained.items() if k != "db_deliveries"})
        result = backend.finish(drained)
    except Interrupted as err:
        log(kind, "interrupted (%s): stopping the servers" % err)
        raise
    except Exception as err:
        traceback.print_exc()
        log(kind, "the run broke: %s" % err)
        result = {"backend": kind, "ok": False, "error": "%s: %s" % (type(err).__name__, err),
                  "instances": backend.instances, "version": backend.version, "binary": backend.binary,
                  "cores": os.cpu_count()}
    finally:
        backend.phase = "done"
        backend.stop.set()
        backend.teardown()
    if backend.rows:
        load_min = ((backend.load_ended or time.monotonic()) - backend.load_started) / 60.0
        subtitle = "%.1f min at %s ops/s, %s, %s; every %d s per server process" % (
            load_min, fmt(args.rate, 0), " + ".join(backend.instances),
            "passed" if result["ok"] else ("BROKE: " + result["error"][:60] if result.get("error") else "CHECKS FAILED"),
            SAMPLE_SECONDS)
        write_svg(os.path.join(out, "soak-%s.svg" % kind), "agentshare soak: %s" % kind, subtitle, backend.rows,
                  backend.instances, load_min)
    with open(os.path.join(out, "result-%s.json" % kind), "w") as f:
        json.dump(result, f, indent=2, default=str)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("minutes", nargs="?", type=float, default=30.0, help="load duration (default 30)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--out", help="output directory (default target/soak/<UTC timestamp>)")
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second per backend (default 40)")
    parser.add_argument("--workers", type=int, default=5, help="load threads per backend (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the load's choices")
    parser.add_argument("--drain-timeout", type=float, default=300.0,
                        help="seconds to wait for webhook deliveries after the load (default 300)")
    parser.add_argument("--keep-data", action="store_true", help="keep the SQLite database and mail files")
    parser.add_argument("--fault", choices=["none", "count-view-twice", "drop-delivery"], default="none",
                        help="self-test: make the load miscount on purpose (the checks must fail)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--started-utc", help=argparse.SUPPRESS)
    args = parser.parse_args()

    args.binary = os.environ.get("AGENTSHARE_BIN") or os.path.join(ROOT, "target", "release", "agentshare")
    if not os.access(args.binary, os.X_OK):
        parser.error("no agentshare binary at %s (set AGENTSHARE_BIN, or run scripts/soak, which builds one)" % args.binary)
    args.binary = os.path.abspath(args.binary)
    now = dt.datetime.now(dt.timezone.utc)
    args.started_utc = args.started_utc or now.strftime("%Y-%m-%d %H:%M")
    out = os.path.abspath(args.out or os.path.join(ROOT, "target", "soak", now.strftime("%Y%m%dT%H%M%SZ")))
    os.makedirs(out, exist_ok=True)

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)

    if args.child:
        try:
            run_backend(args.backend, args, out)
            return 0
        except Interrupted:
            return 130

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print("soak: %s min on %s at %s operations/s each; output in %s" % (
        args.minutes, " and ".join(backends), args.rate, out), flush=True)
    children: List[subprocess.Popen] = []
    results: List[dict] = []
    try:
        if len(backends) == 1:
            try:
                results.append(run_backend(backends[0], args, out))
            except Interrupted:
                return 130
        else:
            for kind in backends:
                cmd = [sys.executable, os.path.abspath(__file__), str(args.minutes), "--backend", kind,
                       "--out", out, "--rate", str(args.rate), "--workers", str(args.workers),
                       "--seed", str(args.seed), "--drain-timeout", str(args.drain_timeout),
                       "--fault", args.fault, "--child", "--started-utc", args.started_utc]
                if args.keep_data:
                    cmd.append("--keep-data")
                children.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
            try:
                for child in children:
                    child.wait()
            except Interrupted:
                print("soak: interrupted; stopping both backends", flush=True)
                return 130
            for kind, child in zip(backends, children):
                path = os.path.join(out, "result-%s.json" % kind)
                if not os.path.exists(path):
                    results.append({"backend": kind, "ok": False, "instances": [],
                                    "error": "the %s run ended with status %s and no result" % (kind, child.returncode)})
                    continue
                with open(path) as f:
                    results.append(json.load(f))
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=90)
            except subprocess.TimeoutExpired:
                child.kill()
    for kind in backends:
        path = os.path.join(out, "result-%s.json" % kind)
        if os.path.exists(path):
            os.remove(path)
    ok = write_summary(out, results, args)
    print("soak: %s; samples, plots and summary in %s" % ("passed" if ok else "FAILED", out), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
