"""A small web app to try a trained model: ``python -m scratchlstm serve --checkpoint PATH``.

Built on the standard library's threading HTTP server, no framework and no front-end build step:
the page (``scratchlstm/web/index.html``) is plain HTML, CSS and JavaScript.

API
---
``GET /api/info``
    Model name, tokenizer kind, vocabulary size, parameter count, device, limits.
``POST /api/generate``  (JSON body)
    ``{"prompt": str, "max_new_tokens": int, "temperature": float, "top_k": int|null,
    "top_p": float|null, "seed": int|null, "stop_at_eos": bool}`` ->
    ``{"text": str, "tokens": [{"id", "text", "prob", "candidates": [[text, prob], ...]}]}``
``POST /api/generate/stream``  (same body)
    Server-sent events: one ``data: {token}`` event per generated token, then ``event: done``.

Bad input gets a 4xx JSON error ``{"error": "..."}``; the worker never crashes or hangs.
"""
from __future__ import annotations

import json
import math
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .checkpoint import load_checkpoint
from .generation import stream

LIMITS = {"max_prompt_chars": 2000, "max_new_tokens": 1000, "max_temperature": 5.0,
          "max_body_bytes": 16_384, "num_candidates": 10}
PAGE = Path(__file__).resolve().parent / "web" / "index.html"


class BadRequest(ValueError):
    """Invalid client input, answered with HTTP 400."""


class _LockedModel:
    """Serialises forward passes of one shared model across request threads.

    Generation passes the hidden state explicitly, so requests never share *state*; the lock
    guards the layers' per-call caches, so concurrent generations cannot interfere at all.
    """

    def __init__(self, model):
        self._model, self._lock = model, threading.Lock()

    def eval(self):
        return self

    def __call__(self, ids, state=None):
        with self._lock:
            return self._model(ids, state)


def parse_generation_request(body: bytes) -> dict:
    """Validate a JSON request body into keyword arguments for :func:`stream`."""
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(data) - {"prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "stop_at_eos"})
    if unknown:
        raise BadRequest(f"unknown fields {unknown}")

    def number(name, default, kind, low, high, allow_none=False):
        value = data.get(name, default)
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadRequest(f"{name} must be a number, got {value!r}")
        if kind is int and float(value) != int(value):
            raise BadRequest(f"{name} must be an integer, got {value!r}")
        value = kind(value)
        if not math.isfinite(value) or not low <= value <= high:
            raise BadRequest(f"{name} must be between {low} and {high}, got {value!r}")
        return value

    prompt = data.get("prompt", "")
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string")
    if len(prompt) > LIMITS["max_prompt_chars"]:
        raise BadRequest(f"prompt is too long ({len(prompt)} characters; the limit is {LIMITS['max_prompt_chars']})")
    top_p = number("top_p", None, float, 0.0, 1.0, allow_none=True)
    if top_p is not None and top_p <= 0.0:
        raise BadRequest("top_p must be in (0, 1]")
    stop_at_eos = data.get("stop_at_eos", False)
    if not isinstance(stop_at_eos, bool):
        raise BadRequest("stop_at_eos must be true or false")
    return dict(prompt=prompt,
                max_new_tokens=number("max_new_tokens", 100, int, 1, LIMITS["max_new_tokens"]),
                temperature=number("temperature", 1.0, float, 0.0, LIMITS["max_temperature"]),
                top_k=number("top_k", None, int, 1, 1_000_000, allow_none=True),
                top_p=top_p,
                seed=number("seed", None, int, 0, 2 ** 32 - 1, allow_none=True),
                stop_at_eos=stop_at_eos)


def _token_json(token) -> dict:
    return {"id": token.id, "text": token.text, "prob": token.prob,
            "candidates": [[text, prob] for text, prob in token.candidates]}


def make_handler(model, tokenizer, info: dict):
    locked = _LockedModel(model)

    class Handler(BaseHTTPRequestHandler):
        server_version = "scratchlstm"
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):      # keep the console quiet
            pass

        # -- helpers ------------------------------------------------------------------------
        def _send_json(self, status, payload):
            body = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status, message):
            self._send_json(status, {"error": message})

        def _read_body(self) -> bytes:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("invalid Content-Length") from None
            if length > LIMITS["max_body_bytes"]:
                raise BadRequest(f"request body too large ({length} bytes)")
            return self.rfile.read(length) if length > 0 else b""

        # -- routes -------------------------------------------------------------------------
        def do_GET(self):
            if self.path in ("/", "/index.html"):
                body = PAGE.read_bytes()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/api/info":
                self._send_json(HTTPStatus.OK, info)
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}")

        def do_POST(self):
            if self.path not in ("/api/generate", "/api/generate/stream"):
                self._error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
                return
            try:
                kwargs = parse_generation_request(self._read_body())
            except BadRequest as exc:
                self._error(HTTPStatus.BAD_REQUEST, str(exc))
                return
            tokens = stream(locked, tokenizer, num_candidates=LIMITS["num_candidates"], **kwargs)
            if self.path == "/api/generate":
                generated = [_token_json(t) for t in tokens]
                self._send_json(HTTPStatus.OK, {"text": "".join(t["text"] for t in generated),
                                                "tokens": generated})
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for token in tokens:
                    self.wfile.write(f"data: {json.dumps(_token_json(token))}\n\n".encode("utf-8"))
                    self.wfile.flush()
                self.wfile.write(b"event: done\ndata: {}\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass                       # the client pressed Stop: just end this generation

        def do_PUT(self):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use GET or POST")

        do_DELETE = do_PATCH = do_PUT

    return Handler


def make_server(checkpoint, host: str = "127.0.0.1", port: int = 8000, device: str | None = None):
    """Load a checkpoint and build (but do not start) the HTTP server. Port 0 picks a free port."""
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build_model(device).eval()
    tokenizer = ckpt.tokenizer()
    if tokenizer is None:
        raise ValueError(f"{checkpoint} holds no tokenizer, so it cannot turn text into ids")
    c = model.config
    info = {"name": Path(checkpoint).parent.name + "/" + Path(checkpoint).name,
            "model": f"{c['num_layers']}-layer {c.get('cell', 'lstm').upper()}, {c['hidden_dim']} units, "
                     f"embedding {c['embed_dim']}" + (", tied" if c["tie_weights"] else ""),
            "tokenizer": tokenizer.kind, "vocab_size": tokenizer.vocab_size,
            "parameters": model.num_parameters(), "device": model.device, "limits": LIMITS}
    server = ThreadingHTTPServer((host, port), make_handler(model, tokenizer, info))
    server.daemon_threads = True
    return server


def serve(checkpoint, host: str = "127.0.0.1", port: int = 8000, device: str | None = None) -> None:
    """Serve until Ctrl-C."""
    server = make_server(checkpoint, host, port, device)
    print(f"serving {checkpoint} on http://{host}:{server.server_address[1]}/  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
