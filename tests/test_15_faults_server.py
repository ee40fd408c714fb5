"""Fault suite for the web server: hostile and clumsy clients against the real server
(``python -m scratchlstm serve`` in a subprocess, on 127.0.0.1 only).

Slow and lying bodies, idle sockets, chunked and mis-sized framing, crafted JSON, 50 clients at
once and a client that leaves mid-stream: every request gets an answer (a JSON error, 503 with
Retry-After when busy, or an ``error`` event in a stream), no thread is held for longer than the
request timeout, and the server never prints a traceback. Every loop is bounded in count and time.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scratchlstm import LSTMLanguageModel
from scratchlstm import server as server_module
from scratchlstm.checkpoint import save_checkpoint
from scratchlstm.text import BPETokenizer

REPO = Path(__file__).resolve().parents[1]
TEXT = "masks filter droplets. vaccines train the immune system. tests find the virus.\n" * 30
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 1.0          # the server's --request-timeout in this suite
MAX_GENERATIONS = 2


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An (untrained) byte-level BPE model: any bytes in, text out."""
    tok = BPETokenizer(vocab_size=300).fit(TEXT)
    path = tmp_path_factory.mktemp("server") / "bpe.npz"
    return save_checkpoint(path, LSTMLanguageModel(tok.vocab_size, 8, 16, 1), tok)


def thread_count(pid: int) -> int:
    return int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("Threads:")))


@pytest.fixture(scope="module")
def served(checkpoint, tmp_path_factory):
    """The real server in a subprocess; yields (port, process). On teardown it must stop on
    SIGTERM with exit 0, and its stderr must hold no traceback."""
    log = tmp_path_factory.mktemp("server-log") / "stderr.txt"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scratchlstm", "serve", "--checkpoint", str(checkpoint), "--host", HOST,
             "--port", "0", "--request-timeout", str(REQUEST_TIMEOUT), "--max-generations",
             str(MAX_GENERATIONS), "--queue-timeout", "0"],
            stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving"), line + log.read_text()
        port = int(line.split(f"http://{HOST}:")[1].split("/")[0])
        yield port, proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


def read_response(sock, head_only=False):
    """(status, headers, body) of one HTTP response read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed without a response (got {data!r})")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = 0 if head_only else int(headers.get("content-length", -1))
    while length < 0 or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length] if length >= 0 else body


def exchange(port, data: bytes, head_only=False, timeout=5.0):
    """Send raw bytes, read one response; also report whether the server then closed."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        status, headers, body = read_response(sock, head_only)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return status, headers, body, closed


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def json_error(status, headers, body):
    assert headers.get("content-type") == "application/json", (status, headers, body)
    return json.loads(body)["error"]


def sse_events(port, payload: dict):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request("POST", "/api/generate/stream", json.dumps(payload), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


# ---------------------------------------------------------------------------------------------
# 5. Timeouts, bounded threads, busy answers
# ---------------------------------------------------------------------------------------------
def test_a_body_shorter_than_its_content_length_gets_408_and_frees_the_thread(served):
    port, proc = served
    start = time.monotonic()
    status, headers, body, closed = exchange(port, post("/api/generate", b'{"prompt": "m"}' + b" " * 10)
                                             .replace(b"Content-Length: 25", b"Content-Length: 100"))
    assert status == 408 and "did not arrive in time" in json_error(status, headers, body) and closed
    assert time.monotonic() - start < REQUEST_TIMEOUT + 3


def test_a_slow_drip_body_is_cut_off_at_the_request_timeout(served):
    """One byte every 0.3 s never completes the body: the timeout is for the whole body, not for
    each read."""
    port, _ = served
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
        start = time.monotonic()
        for _ in range(15):                        # at most 4.5 s of dripping
            try:
                sock.sendall(b" ")
            except OSError:
                break
            time.sleep(0.3)
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
                sock.settimeout(10)
        status, headers, body = read_response(sock)
    assert status == 408 and time.monotonic() - start < REQUEST_TIMEOUT + 2


def test_idle_sockets_do_not_hold_threads(served):
    """100 connections that send nothing: at most 64 get a thread, the rest a 503 at once; after
    the request timeout every one is closed and the thread count is back where it was."""
    port, proc = served
    baseline = thread_count(proc.pid)
    sockets = [socket.create_connection((HOST, port), timeout=10) for _ in range(100)]
    try:
        time.sleep(0.3)
        assert thread_count(proc.pid) <= baseline + server_module.LIMITS["max_connections"]
        answers = []
        deadline = time.monotonic() + REQUEST_TIMEOUT + 3          # for all of them together
        for sock in sockets:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = sock.recv(65536)
            except TimeoutError:
                answers.append(b"still open")
                continue
            answers.append(data.split(b" ", 2)[1] if data else b"closed")
    finally:
        for sock in sockets:
            sock.close()
    assert set(answers) <= {b"503", b"closed"} and answers.count(b"503") >= 100 - 64
    deadline = time.monotonic() + 5
    while thread_count(proc.pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert thread_count(proc.pid) <= baseline


def generate_concurrently(port, n, payload):
    """``n`` clients POST at the same moment; returns [(status, headers, body) or exception name]."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def client(k):
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            barrier.wait(timeout=10)
            conn.request("POST", "/api/generate", json.dumps(payload), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            results[k] = (resp.status, dict(resp.getheaders()), resp.read())
            conn.close()
        except Exception as exc:      # a reset or a timeout: no answer
            results[k] = type(exc).__name__

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_fifty_concurrent_clients_all_get_an_answer(served):
    """50 generations at once against 2 slots: each one is answered 200 or 503, none reset."""
    port, _ = served
    results = generate_concurrently(port, 50, {"prompt": "masks", "max_new_tokens": 5, "seed": 1})
    assert all(isinstance(r, tuple) for r in results), [r for r in results if not isinstance(r, tuple)]
    assert {status for status, _, _ in results} <= {200, 503}
    assert any(status == 200 for status, _, _ in results)


def test_a_full_server_answers_503_with_retry_after(served):
    port, _ = served
    results = generate_concurrently(port, 6, {"prompt": "masks", "max_new_tokens": 1000})
    busy = [r for r in results if r[0] == 503]
    assert busy and all(r[0] in (200, 503) for r in results)
    status, headers, body = busy[0]
    assert headers["Retry-After"] == "1" and "busy" in json.loads(body)["error"]


def test_a_client_that_leaves_mid_stream_frees_its_generation(served):
    """Read one event of a long stream, hang up; the generation stops and both slots are free."""
    port, _ = served
    for _ in range(MAX_GENERATIONS):
        with socket.create_connection((HOST, port), timeout=10) as sock:
            sock.sendall(post("/api/generate/stream", json.dumps({"max_new_tokens": 1000}).encode()))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        results = generate_concurrently(port, MAX_GENERATIONS, {"prompt": "m", "max_new_tokens": 3})
        if all(r[0] == 200 for r in results):
            break
        time.sleep(0.2)
    assert all(r[0] == 200 for r in results)


# ---------------------------------------------------------------------------------------------
# 6. Crafted JSON
# ---------------------------------------------------------------------------------------------
CRAFTED = {
    "nested 5000 deep": b"[" * 5000 + b"]" * 5000,
    "nested prompt": b'{"prompt": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    "400-digit seed": b'{"seed": ' + b"9" * 400 + b"}",
    "400-digit max_new_tokens": b'{"max_new_tokens": ' + b"1" * 400 + b"}",
    "5000-digit top_k": b'{"top_k": ' + b"7" * 5000 + b"}",
    "1e400 temperature": b'{"temperature": 1e400}',
    "1e400 max_new_tokens": b'{"max_new_tokens": 1e400}',
    "-1e400 top_p": b'{"top_p": -1e400}',
    "NaN temperature": b'{"temperature": NaN}',
    "Infinity seed": b'{"seed": Infinity}',
    "lone high surrogate": b'{"prompt": "masks \\ud800"}',
    "lone low surrogate": b'{"prompt": "a\\udc80b"}',
    "bytes that are not UTF-8": b'{"prompt": "\xff\xfe"}',
    "a list": b"[1, 2, 3]",
}


@pytest.mark.parametrize("route", ["/api/generate", "/api/generate/stream"])
@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_json_gets_a_400_json_answer(served, route, name):
    port, _ = served
    status, headers, body, _ = exchange(port, post(route, CRAFTED[name]))
    assert status == 400 and json_error(status, headers, body)


def test_a_prompt_with_a_lone_surrogate_is_named_in_the_answer(served):
    port, _ = served
    status, headers, body, _ = exchange(port, post("/api/generate", CRAFTED["lone high surrogate"]))
    assert "surrogate" in json_error(status, headers, body)


def test_the_stream_route_still_streams(served):
    port, _ = served
    status, text = sse_events(port, {"prompt": "masks", "max_new_tokens": 4, "seed": 2})
    events = [e for e in text.split("\n\n") if e]
    assert status == 200 and len(events) == 5 and events[-1].startswith("event: done")


# ---------------------------------------------------------------------------------------------
# 7. Framing and methods
# ---------------------------------------------------------------------------------------------
def request_head(method, path, headers=""):
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()


@pytest.mark.parametrize("data, status, message", [
    (request_head("POST", "/api/generate", "Transfer-Encoding: chunked\r\n") + b"5\r\n{\"a\"}\r\n0\r\n\r\n",
     411, "chunked"),
    (request_head("POST", "/api/generate", "Content-Length: -5\r\n") + b"{}", 400, "Content-Length"),
    (request_head("POST", "/api/generate", "Content-Length: +2\r\n") + b"{}", 400, "Content-Length"),
    (request_head("POST", "/api/generate", "Content-Length: 2\r\nContent-Length: 40\r\n") + b"{}", 400,
     "Content-Length headers"),
    (request_head("POST", "/api/generate", "Content-Length: ten\r\n") + b"{}", 400, "Content-Length"),
    (request_head("POST", "/api/generate") + b'{"prompt": "x"}', 411, "Content-Length"),
    (request_head("POST", "/api/generate", "Content-Length: 99999999\r\n"), 413, "too large"),
    (request_head("BREW", "/api/generate"), 501, "Unsupported method"),
    (request_head("DELETE", "/api/generate"), 405, "GET or POST"),
    (b"GARBAGE\r\n\r\n", 400, "Bad request"),
])
def test_bad_framing_gets_a_json_error_and_a_closed_connection(served, data, status, message):
    """Bytes after a body the server cannot delimit must not be read as the next request."""
    port, _ = served
    got, headers, body, closed = exchange(port, data)
    assert got == status and message in json_error(got, headers, body) and closed


def test_head_and_options_get_proper_answers(served):
    port, _ = served
    close = "Connection: close\r\n"
    for path in ("/", "/api/info"):
        status, headers, body, _ = exchange(port, request_head("HEAD", path, close), head_only=True)
        assert status == 200 and int(headers["content-length"]) > 0 and body == b""
    status, headers, _, _ = exchange(port, request_head("HEAD", "/nothing", close), head_only=True)
    assert status == 404
    status, headers, body, _ = exchange(port, request_head("OPTIONS", "/api/generate", close), head_only=True)
    assert status == 204 and "POST" in headers["allow"] and "HEAD" in headers["allow"]


def run_serve(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "scratchlstm", "serve", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_a_port_in_use_or_a_host_that_does_not_resolve_is_a_clear_error(checkpoint):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        r = run_serve("--checkpoint", checkpoint, "--host", HOST, "--port", taken.getsockname()[1])
    assert r.returncode == 2 and "already in use" in r.stderr and "--port" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = run_serve("--checkpoint", checkpoint, "--host", "no.such.host.invalid", "--port", 0)
    assert r.returncode == 2 and "does not resolve" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_host_reachable_from_other_machines_gets_a_warning(checkpoint, monkeypatch, capsys):
    """--host 0.0.0.0 warns (checked without binding it: the server object is replaced)."""
    class Stopped:
        server_address = ("0.0.0.0", 1234)

        def serve_forever(self):
            raise KeyboardInterrupt

        def server_close(self):
            pass

    monkeypatch.setattr(server_module, "make_server", lambda *args, **kwargs: Stopped())
    server_module.serve(checkpoint, host="0.0.0.0", port=1234)
    assert "warning: --host 0.0.0.0" in capsys.readouterr().err
    server_module.serve(checkpoint, host="127.0.0.1", port=1234)
    assert "warning" not in capsys.readouterr().err
    assert server_module.is_loopback("localhost") and not server_module.is_loopback("0.0.0.0")
