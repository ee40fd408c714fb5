"""The web server under load: do 50 clients at once all get an answer, and how fast?

Starts ``python -m scratchlstm serve`` in a subprocess on 127.0.0.1 (a free port), then runs
``--rounds`` rounds in which ``--clients`` clients connect and send ``POST /api/generate`` at the
same moment (a barrier releases them together), and one round of idle connections.
It reports

* answered / sent : requests that got an HTTP answer (200, or 503 "busy" with Retry-After);
                    the rest were reset, refused or timed out;
* p50 / p95 ms    : latency of the answered requests, from sending to the last byte, all
                    answers and the 200s alone;
* idle           : ``--idle`` connections that send nothing, held open for 12 s (past the
                    default request timeout of 10 s): how many the server answered or closed,
                    and its thread count while they were open;
* threads, RSS    : of the server process before the load, after it, and after the idle round.

The model is an untrained char-level LSTM (vocabulary 40, 1 x 64) unless ``--checkpoint`` is
given: the figures measure the server, not the model.

    python benchmarks/bench_server.py
    python benchmarks/bench_server.py --clients 50 --rounds 5 --max-new-tokens 20
    python benchmarks/bench_server.py --repo /path/to/another/checkout   # compare two versions
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50, help="clients sending at the same moment (default 50)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of --clients requests (default 5)")
    p.add_argument("--idle", type=int, default=100, help="idle connections opened in the last round")
    p.add_argument("--max-new-tokens", type=int, default=20)
    p.add_argument("--checkpoint", default=None, help="serve this checkpoint instead of a tiny model")
    p.add_argument("--repo", default=str(REPO), help="the checkout whose scratchlstm is served")
    p.add_argument("--serve-args", default="", help="extra options for serve, e.g. '--max-generations 8'")
    return p.parse_args(argv)


def tiny_checkpoint(folder: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from scratchlstm import LSTMLanguageModel
    from scratchlstm.checkpoint import save_checkpoint
    from scratchlstm.text import CharTokenizer

    tok = CharTokenizer().fit("abcdefghijklmnopqrstuvwxyz .,;:!?'\"-\n")
    return save_checkpoint(folder / "tiny.npz", LSTMLanguageModel(tok.vocab_size, 32, 64, 1), tok)


def proc_status(pid: int) -> dict:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"threads": int(fields["Threads"]), "rss_mb": int(fields["VmRSS"].split()[0]) / 1024}


def one_round(port: int, clients: int, payload: bytes):
    """``clients`` clients connect and send at the same moment: [(status or error name, ms)]."""
    barrier = threading.Barrier(clients)
    results = [None] * clients

    def client(k):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            barrier.wait(timeout=30)
            start = time.perf_counter()
            conn.request("POST", "/api/generate", payload, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            results[k] = (resp.status, (time.perf_counter() - start) * 1000)
            conn.close()
        except Exception as exc:       # reset, refused, timed out: no answer
            results[k] = (type(exc).__name__, None)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def idle_round(port: int, pid: int, n: int, wait_s: float):
    """``n`` connections that send nothing, left open for ``wait_s``: how many the server has
    answered (503) or closed by then, and its thread count while they are open."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
    time.sleep(1.0)
    threads_held = proc_status(pid)["threads"]
    time.sleep(max(wait_s - 1.0, 0))
    ended = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            sock.recv(65536)           # a 503, or b"" once the server has closed it
            ended += 1
        except BlockingIOError:        # still open and silent: a server thread is waiting on it
            pass
        except OSError:
            ended += 1
        finally:
            sock.close()
    return ended, threads_held


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or tiny_checkpoint(Path(tmp))
        env = dict(os.environ, PYTHONPATH=args.repo, PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
        proc = subprocess.Popen([sys.executable, "-m", "scratchlstm", "serve", "--checkpoint", str(checkpoint),
                                 "--host", "127.0.0.1", "--port", "0", *args.serve_args.split()],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=tmp)       # not the caller's folder: -m would import from there first
        try:
            line = proc.stdout.readline()
            if not line.startswith("serving"):
                sys.exit(f"the server did not start: {line}{proc.stderr.read()}")
            port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
            before = proc_status(proc.pid)
            payload = json.dumps({"prompt": "the ", "max_new_tokens": args.max_new_tokens, "seed": 1}).encode()
            results = []
            for _ in range(args.rounds):
                results += one_round(port, args.clients, payload)
            right_after = proc_status(proc.pid)
            idle_ended, idle_threads = idle_round(port, proc.pid, args.idle, 12.0) if args.idle else (0, 0)
            time.sleep(1.0)
            settled = proc_status(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    sent = len(results)
    answered = [(s, ms) for s, ms in results if isinstance(s, int)]
    codes = {}
    for s, _ in results:
        codes[s] = codes.get(s, 0) + 1
    all_ms = [ms for _, ms in answered]
    ok_ms = [ms for s, ms in answered if s == 200]
    print(f"# bench_server: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"served from {args.repo}")
    print(f"{args.rounds} rounds x {args.clients} simultaneous POST /api/generate "
          f"(max_new_tokens {args.max_new_tokens}), then {args.idle} idle connections")
    print(f"answered / sent     : {len(answered)} / {sent}   ({', '.join(f'{k}: {v}' for k, v in sorted(codes.items(), key=str))})")
    print(f"latency p50 / p95   : {percentile(all_ms, 50):.0f} / {percentile(all_ms, 95):.0f} ms (all answers), "
          f"{percentile(ok_ms, 50):.0f} / {percentile(ok_ms, 95):.0f} ms (200s)")
    if args.idle:
        print(f"idle connections    : {idle_ended} / {args.idle} answered 503 or closed by the server after 12 s; "
              f"server threads while they were open: {idle_threads}")
    for name, s in (("before", before), ("after the load", right_after), ("after idle", settled)):
        print(f"server {name:<14}: {s['threads']} threads, RSS {s['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
