"""A small web app to try a trained model: ``python -m scratchlstm serve --checkpoint PATH``.

Built on the standard library's threading HTTP server, no framework and no front-end build step:
the page (``scratchlstm/web/index.html``) is plain HTML, CSS and JavaScript.

API
---
``GET /api/info``
    Model name, tokenizer kind, vocabulary size, parameter count, device, limits.
``POST /api/generate``  (JSON body)
    ``{"prompt": str, "max_new_tokens": int, "temperature": float, "top_k": int|null,
    "top_p": float|null, "seed": int|null, "stop_at_eos": bool, "activations": bool}`` ->
    ``{"text": str, "tokens": [{"id", "text", "prob", "candidates": [[text, prob], ...]}]}``;
    with ``"activations": true`` (LSTM checkpoints only: ``units`` in ``/api/info`` is not null)
    every token also carries ``"activations": {"h": [[...H] per layer], "c": [...], "i": [mean
    per layer], "f", "g", "o"}``, what the LSTM's units computed as it read that token.
``POST /api/generate/stream``  (same body)
    Server-sent events: one ``data: {token}`` event per generated token, then ``event: done``;
    a failure after the stream has started is an ``event: error`` with ``{"error": ...}``.

Every request gets an answer, and no client can hold the server:

* bad input is a 4xx JSON ``{"error": "..."}`` (malformed or crafted JSON, numbers out of range,
  a lone surrogate in the prompt, a chunked or mis-sized body, an unknown route or method);
* a client has ``request_timeout_s`` to send its request line, headers and whole body (408
  after that), so a client that announces a longer body than it sends frees its thread;
* at most ``max_generations`` generations run at once; another request waits up to
  ``generation_wait_s`` for a slot, then gets 503 with ``Retry-After``;
* at most ``max_connections`` connections are served at once (each holds a thread); beyond
  that a new connection is answered 503 at once; the listen backlog holds bursts of
  ``request_queue_size`` connections instead of resetting them.
"""
from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import math
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .checkpoint import load_checkpoint
from .generation import stream, validate_prompt, validate_sampling

LIMITS = {"max_prompt_chars": 2000, "max_new_tokens": 1000, "max_temperature": 5.0,
          "max_body_bytes": 16_384, "num_candidates": 10, "max_generations": 4,
          "generation_wait_s": 10.0, "max_connections": 64, "request_timeout_s": 10.0}
PAGE = Path(__file__).resolve().parent / "web" / "index.html"
ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"


class HTTPProblem(Exception):
    """A request that gets an error answer: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str, close: bool = False, headers=()):
        super().__init__(message)
        self.status, self.message, self.close, self.headers = status, message, close, tuple(headers)


class BadRequest(HTTPProblem, ValueError):
    """Invalid client input, answered with HTTP 400."""

    def __init__(self, message: str):
        super().__init__(HTTPStatus.BAD_REQUEST, message)


class ServerError(ValueError):
    """The server cannot start: the host does not resolve, the port is taken or not allowed."""


class _LockedModel:
    """Serialises forward passes of one shared model across request threads.

    Generation passes the hidden state explicitly, so requests never share *state*; the lock
    guards the layers' per-call caches, so concurrent generations cannot interfere at all (and
    the activations read after a forward are that forward's).
    """

    def __init__(self, model):
        # re-entrant: inference() holds the lock around the calls that take it again
        self._model, self._lock = model, threading.RLock()
        self.block_size = getattr(model, "block_size", None)
        self.has_units = getattr(model, "has_units", False)

    def eval(self):
        return self

    def __call__(self, ids, state=None):
        with self._lock:
            return self._model(ids, state)

    def forward_and_snapshot(self, ids, state=None):
        with self._lock:
            return self._model.forward_and_snapshot(ids, state)

    @contextlib.contextmanager
    def inference(self):
        """The model's inference mode, for one request at a time (it sets flags on the layers)."""
        with self._lock, self._model.inference():
            yield self

    def batch_one_stepper(self, state=None):
        """The model's batch-1 stepper (see ``generate``). Made under the lock; it then needs
        none: it has buffers of its own and only reads weights that no request changes."""
        make = getattr(self._model, "batch_one_stepper", None)
        with self._lock:
            return make(state) if make is not None else None


# ----------------------------------------------------------------------------------------------
# Request validation
# ----------------------------------------------------------------------------------------------
def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):         # 1e400 parses as inf
        raise BadRequest(f"number {text[:40]} is out of range")
    return value


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > 20:        # far beyond any limit below; int() of 10^5 digits is slow
        raise BadRequest(f"integer {text[:20]}... has {len(text)} digits, too many")
    return int(text)


def _json_constant(name: str):
    raise BadRequest(f"{name} is not valid JSON (numbers must be finite)")


def parse_generation_request(body: bytes) -> dict:
    """Validate a JSON request body into keyword arguments for :func:`stream`.

    Raises
    ------
    BadRequest
        For anything but a JSON object of known fields with values in range.
    """
    try:
        data = json.loads(body.decode("utf-8") or "{}", parse_float=_json_float, parse_int=_json_int,
                          parse_constant=_json_constant)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(data) - {"prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed",
                                  "stop_at_eos", "activations"})
    if unknown:
        raise BadRequest(f"unknown fields {unknown}")

    def number(name, default, kind, low, high, allow_none=False):
        value = data.get(name, default)
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"{name} must be a number, got {value!r}")
        if kind is int and isinstance(value, float):
            if not value.is_integer():
                raise BadRequest(f"{name} must be an integer, got {value!r}")
            value = int(value)
        if not low <= value <= high:      # ints compared exactly, never through float()
            raise BadRequest(f"{name} must be between {low} and {high}, got {value!r}")
        return kind(value)

    prompt = data.get("prompt", "")
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string")
    if len(prompt) > LIMITS["max_prompt_chars"]:
        raise BadRequest(f"prompt is too long ({len(prompt)} characters; the limit is {LIMITS['max_prompt_chars']})")
    try:
        validate_prompt(prompt)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    top_p = number("top_p", None, float, 0.0, 1.0, allow_none=True)
    if top_p is not None and top_p <= 0.0:
        raise BadRequest("top_p must be in (0, 1]")
    stop_at_eos = data.get("stop_at_eos", False)
    if not isinstance(stop_at_eos, bool):
        raise BadRequest("stop_at_eos must be true or false")
    activations = data.get("activations", False)
    if not isinstance(activations, bool):
        raise BadRequest("activations must be true or false")
    kwargs = dict(prompt=prompt,
                  max_new_tokens=number("max_new_tokens", 100, int, 1, LIMITS["max_new_tokens"]),
                  temperature=number("temperature", 1.0, float, 0.0, LIMITS["max_temperature"]),
                  top_k=number("top_k", None, int, 1, 1_000_000, allow_none=True),
                  top_p=top_p,
                  seed=number("seed", None, int, 0, 2 ** 32 - 1, allow_none=True),
                  stop_at_eos=stop_at_eos, activations=activations)
    try:
        validate_sampling(kwargs["temperature"], kwargs["top_k"], kwargs["top_p"])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return kwargs


_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")


def _token_json(token) -> dict:
    out = {"id": token.id, "text": token.text, "prob": token.prob,
           "candidates": [[text, prob] for text, prob in token.candidates]}
    if token.activations is not None:
        out["activations"] = token.activations
    return out


# ----------------------------------------------------------------------------------------------
# The request handler
# ----------------------------------------------------------------------------------------------
def make_handler(model, tokenizer, info: dict, limits: dict | None = None):
    limits = dict(LIMITS, **(limits or {}))
    locked = _LockedModel(model)

    class Handler(BaseHTTPRequestHandler):
        server_version = "scratchlstm"
        protocol_version = "HTTP/1.1"
        # the socket timeout for every read and write; StreamRequestHandler.setup applies it
        timeout = limits["request_timeout_s"]

        def log_message(self, format, *args):      # keep the console quiet
            pass

        # -- answers --------------------------------------------------------------------------
        def _send(self, status, body: bytes, content_type: str, extra_headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra_headers:
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _send_json(self, status, payload, extra_headers=()):
            self._send(status, json.dumps(payload).encode("utf-8"), "application/json", extra_headers)

        def _error(self, status, message, extra_headers=()):
            self._send_json(status, {"error": message}, extra_headers)

        def send_error(self, code, message=None, explain=None):
            """The base class's errors (malformed request line, unsupported method, headers too
            long, timeouts) as JSON like every other error, not an HTML page."""
            short = self.responses.get(code, ("error", ""))[0]
            self.close_connection = True
            if self.request_version == "HTTP/0.9":
                # a malformed request line counts as HTTP/0.9, which has no status line; no client
                # speaks that any more, so answer in a form it can read
                self.request_version = "HTTP/1.0"
            text = message or short
            try:
                self.send_response(code, short)          # the reason phrase stays plain ASCII
                self.send_header("Connection", "close")
                if code < 200 or code in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
                    self.end_headers()
                    return
                body = json.dumps({"error": text + (f": {explain}" if explain else "")}).encode("utf-8")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if getattr(self, "command", None) != "HEAD":
                    self.wfile.write(body)
            except OSError:
                pass                           # the client is gone

        def _run(self, route):
            """Call ``route``; turn an HTTPProblem into its answer and anything else into a 500,
            so a request never ends without an answer (unless the client left)."""
            self._started_stream = False
            try:
                route()
            except HTTPProblem as exc:
                self.close_connection = self.close_connection or exc.close
                try:
                    self._error(exc.status, exc.message, exc.headers)
                except OSError:
                    self.close_connection = True
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
                self.close_connection = True   # the client left or stopped reading
            except Exception as exc:           # a bug: answer it, log one line
                self.close_connection = True
                sys.stderr.write(f"scratchlstm serve: {self.command} {self.path} failed: "
                                 f"{type(exc).__name__}: {exc}\n")
                if not self._started_stream:
                    try:
                        self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error ({type(exc).__name__})")
                    except OSError:
                        pass

        def _refuse_body(self):
            """GET/HEAD/OPTIONS take no body: one that is announced cannot be skipped safely."""
            if self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length", "0").strip() != "0":
                self.close_connection = True

        def _read_body(self) -> bytes:
            """The request body, framed by exactly one valid Content-Length and read within the
            request timeout."""
            if self.headers.get_all("Transfer-Encoding"):
                raise HTTPProblem(HTTPStatus.LENGTH_REQUIRED, "chunked (Transfer-Encoding) request bodies "
                                  "are not supported: send the body with a Content-Length header", close=True)
            lengths = self.headers.get_all("Content-Length") or []
            if not lengths:
                raise HTTPProblem(HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length header "
                                  "(Content-Length: 0 for an empty body)", close=True)
            if len(lengths) > 1:
                raise HTTPProblem(HTTPStatus.BAD_REQUEST, f"{len(lengths)} Content-Length headers; send one",
                                  close=True)
            text = lengths[0].strip()
            if not _CONTENT_LENGTH.fullmatch(text):
                raise HTTPProblem(HTTPStatus.BAD_REQUEST, f"invalid Content-Length {text[:30]!r}: it must be "
                                  "a non-negative integer", close=True)
            length = int(text)
            if length > limits["max_body_bytes"]:
                raise HTTPProblem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body too large ({length} "
                                  f"bytes; the limit is {limits['max_body_bytes']})", close=True)
            deadline = time.monotonic() + limits["request_timeout_s"]
            chunks, received = [], 0
            try:
                while received < length:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    self.connection.settimeout(left)
                    chunk = self.rfile.read1(length - received)
                    if not chunk:
                        raise HTTPProblem(HTTPStatus.BAD_REQUEST, f"the body ended after {received} of the "
                                          f"{length} bytes its Content-Length announced", close=True)
                    chunks.append(chunk)
                    received += len(chunk)
            except TimeoutError:
                raise HTTPProblem(HTTPStatus.REQUEST_TIMEOUT, f"the body did not arrive in time: {received} of "
                                  f"{length} bytes in {limits['request_timeout_s']:g} s", close=True) from None
            finally:
                self.connection.settimeout(self.timeout)
            return b"".join(chunks)

        # -- routes ---------------------------------------------------------------------------
        def _get(self):
            self._refuse_body()
            if self.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif self.path == "/api/info":
                self._send_json(HTTPStatus.OK, info)
            else:
                raise HTTPProblem(HTTPStatus.NOT_FOUND, f"no route {self.command} {self.path}")

        def do_GET(self):
            self._run(self._get)

        do_HEAD = do_GET

        def do_OPTIONS(self):
            def options():
                self._refuse_body()
                self.send_response(HTTPStatus.NO_CONTENT)
                self.send_header("Allow", ALLOWED_METHODS)
                self.send_header("Content-Length", "0")
                self.end_headers()
            self._run(options)

        def do_POST(self):
            self._run(self._post)

        def _post(self):
            if self.path not in ("/api/generate", "/api/generate/stream"):
                self.close_connection = True          # its body, if any, was not read
                raise HTTPProblem(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
            try:
                kwargs = parse_generation_request(self._read_body())
                tokenizer.encode(kwargs["prompt"])     # fail here, not after a 200 has gone out
                if kwargs["activations"] and not locked.has_units:
                    raise BadRequest(f"this checkpoint's model ({info['model']}) has no LSTM units to "
                                     "show: leave out \"activations\" (units is null in /api/info)")
            except BadRequest:
                self.close_connection = True
                raise
            except (ValueError, TypeError) as exc:
                self.close_connection = True
                raise BadRequest(f"the prompt cannot be encoded: {exc}") from None
            slots = self.server.generations
            if not slots.acquire(timeout=limits["generation_wait_s"]):
                raise HTTPProblem(HTTPStatus.SERVICE_UNAVAILABLE, f"busy: {limits['max_generations']} "
                                  "generations are running; retry in a moment", headers=(("Retry-After", "1"),))
            try:
                tokens = stream(locked, tokenizer, num_candidates=limits["num_candidates"], **kwargs)
                if self.path == "/api/generate":
                    generated = [_token_json(t) for t in tokens]
                    self._send_json(HTTPStatus.OK, {"text": "".join(t["text"] for t in generated),
                                                    "tokens": generated})
                else:
                    self._stream(tokens)
            finally:
                slots.release()

        def _stream(self, tokens):
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._started_stream = True
            try:
                for token in tokens:
                    self.wfile.write(f"data: {json.dumps(_token_json(token))}\n\n".encode("utf-8"))
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
                return                     # the client pressed Stop (or stopped reading)
            except Exception as exc:       # after the 200: report in the stream itself
                sys.stderr.write(f"scratchlstm serve: generation failed: {type(exc).__name__}: {exc}\n")
                self.wfile.write(b"event: error\ndata: " + json.dumps(
                    {"error": f"generation failed ({type(exc).__name__})"}).encode("utf-8") + b"\n\n")
                return
            finally:
                tokens.close()
            self.wfile.write(b"event: done\ndata: {}\n\n")
            self.wfile.flush()

        def do_PUT(self):
            def refuse():
                self.close_connection = True
                raise HTTPProblem(HTTPStatus.METHOD_NOT_ALLOWED, f"use GET or POST (allowed: {ALLOWED_METHODS})")
            self._run(refuse)

        do_DELETE = do_PATCH = do_PUT

    return Handler


# ----------------------------------------------------------------------------------------------
# The server
# ----------------------------------------------------------------------------------------------
class PlaygroundServer(ThreadingHTTPServer):
    """A threading HTTP server with a deep listen backlog and a cap on open connections."""

    daemon_threads = True
    request_queue_size = 128       # the listen backlog (default 5 resets bursts of clients)

    def __init__(self, address, handler, limits: dict, family=socket.AF_INET):
        self.address_family = family
        self.limits = limits
        self._connections = threading.BoundedSemaphore(limits["max_connections"])
        self.generations = threading.BoundedSemaphore(limits["max_generations"])
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._connections.acquire(blocking=False):
            self._turn_away(request)
            return
        try:
            super().process_request(request, client_address)       # starts the thread
        except BaseException:
            self._connections.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def _turn_away(self, request) -> None:
        """Answer 503 on the accepting thread without reading the request, quickly."""
        body = json.dumps({"error": f"busy: {self.limits['max_connections']} connections are open; "
                                    "retry in a moment"}).encode("utf-8")
        head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode("ascii")
        try:
            request.setblocking(False)
            try:                        # what has arrived already: unread data would turn close into a reset
                while request.recv(65536):
                    pass
            except OSError:
                pass
            request.settimeout(1.0)
            request.sendall(head + body)
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address):
        """One line instead of the standard library's traceback for a failed connection."""
        exc = sys.exc_info()[1]
        sys.stderr.write(f"scratchlstm serve: connection from {client_address[0]} failed: "
                         f"{type(exc).__name__}: {exc}\n")


def _resolve(host: str, port: int):
    """(family, address) to bind, or a ServerError that says what is wrong with --host/--port."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ServerError(f"--port must be a TCP port in 0..65535 (0: any free port), got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerError(f"--host {host!r} does not resolve to an address of this machine "
                          f"({getattr(exc, 'strerror', None) or exc}); try 127.0.0.1") from None
    family, _, _, _, address = infos[0]
    return family, (address[0], port)


def is_loopback(host: str) -> bool:
    """True when ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(_resolve(host, 0)[1][0]).is_loopback
    except (ServerError, ValueError):
        return False


#: Prompts the page offers as examples (those the tokenizer can encode without <unk>).
EXAMPLE_PROMPTS = ("the vaccine", "masks", "Q: Do masks work?\nA:", "My grandmother", "The virus spreads")


def example_prompts(tokenizer) -> list[str]:
    """The example prompts that this tokenizer encodes without unknown tokens (a word or char
    model trained on other text may not know some of their words or letters)."""
    unk = getattr(tokenizer, "unk_id", None)
    kept = []
    for prompt in EXAMPLE_PROMPTS:
        try:
            ids = tokenizer.encode(prompt)
        except (ValueError, TypeError):
            continue
        if ids and (unk is None or unk not in ids):
            kept.append(prompt)
    return kept or ["the"]


def make_server(checkpoint, host: str = "127.0.0.1", port: int = 8000, device: str | None = None,
                max_generations: int | None = None, request_timeout: float | None = None,
                queue_timeout: float | None = None) -> "PlaygroundServer":
    """Load a checkpoint and build (but do not start) the HTTP server. Port 0 picks a free port.

    ``max_generations``, ``request_timeout`` and ``queue_timeout`` override
    ``LIMITS["max_generations"]``, ``["request_timeout_s"]`` and ``["generation_wait_s"]``.

    Raises
    ------
    ServerError
        The host does not resolve, or the port is in use, out of range or not allowed.
    """
    limits = dict(LIMITS)
    if max_generations is not None:
        limits["max_generations"] = int(max_generations)
    if request_timeout is not None:
        limits["request_timeout_s"] = float(request_timeout)
    if queue_timeout is not None:
        limits["generation_wait_s"] = float(queue_timeout)
    family, address = _resolve(host, port)
    ckpt = load_checkpoint(checkpoint)
    tokenizer = ckpt.tokenizer()
    if tokenizer is None:
        raise ValueError(f"{checkpoint} holds no tokenizer, so it cannot turn text into ids")
    model = ckpt.build_model(device).eval()
    c = model.config
    units = ({"layers": c["num_layers"], "hidden": c["hidden_dim"]}
             if getattr(model, "has_units", False) else None)
    info = {"name": Path(checkpoint).parent.name + "/" + Path(checkpoint).name,
            "model": model.describe(), "kind": type(model).__name__,
            "units": units, "context": getattr(model, "block_size", None),
            "examples": example_prompts(tokenizer),
            "tokenizer": tokenizer.kind, "vocab_size": tokenizer.vocab_size,
            "parameters": model.num_parameters(), "device": model.device, "limits": limits}
    try:
        return PlaygroundServer(address, make_handler(model, tokenizer, info, limits), limits, family)
    except OSError as exc:
        reasons = {errno.EADDRINUSE: f"port {port} is already in use on {host} (another server?): choose "
                                     "another with --port, or --port 0 for any free port",
                   errno.EACCES: f"no permission to listen on port {port} (ports below 1024 need "
                                 "privileges): choose --port 1024 or above",
                   errno.EADDRNOTAVAIL: f"{host} is not an address of this machine: try --host 127.0.0.1"}
        raise ServerError(reasons.get(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror or exc}")) from None


def serve(checkpoint, host: str = "127.0.0.1", port: int = 8000, device: str | None = None,
          max_generations: int | None = None, request_timeout: float | None = None,
          queue_timeout: float | None = None) -> None:
    """Serve until Ctrl-C (or SIGTERM/SIGHUP from the command line); see :func:`make_server`."""
    server = make_server(checkpoint, host, port, device, max_generations, request_timeout, queue_timeout)
    if not is_loopback(host):
        print(f"warning: --host {host} makes the model reachable from other machines, and the server "
              "has no authentication; use the default 127.0.0.1 to keep it on this one",
              file=sys.stderr, flush=True)
    print(f"serving {checkpoint} on http://{host}:{server.server_address[1]}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
