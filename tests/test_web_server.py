"""The web playground: its JSON API against a real server on a free loopback port, and the page
itself in a real headless browser."""
import json
import shutil
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
import pytest

from scratchlstm import LSTMLanguageModel
from scratchlstm.server import make_server
from scratchlstm.text import CharTokenizer
from scratchlstm.training import Trainer

TEXT = "masks filter droplets. vaccines train the immune system. tests find the virus.\n" * 30


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A tiny char model trained for a few steps, served on 127.0.0.1 with a free port."""
    out = tmp_path_factory.mktemp("serve")
    tok = CharTokenizer().fit(TEXT)
    ids = numpy.array(tok.encode(TEXT))
    model = LSTMLanguageModel(tok.vocab_size, 16, 32, 1, seed=0)
    Trainer(model, {"train": ids[:2000], "valid": ids[2000:]},
            dict(epochs=1, batch_size=4, bptt=20, progress=False, max_steps_per_epoch=20),
            tokenizer=tok, out_dir=out, log=None).fit()
    srv = make_server(out / "best.npz", host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def request(url, body=None, method=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_info_describes_the_model(server):
    """GET /api/info names the tokenizer, vocabulary size, parameter count and device."""
    status, body = request(server + "/api/info")
    info = json.loads(body)
    assert status == 200
    assert info["tokenizer"] == "char" and info["device"] == "cpu"
    assert info["vocab_size"] == len(set(TEXT)) + 1 and info["parameters"] > 0


def test_page_is_served(server):
    """GET / returns the HTML page with its Generate and Stop buttons."""
    status, body = request(server + "/")
    assert status == 200 and 'id="generate"' in body and 'id="stop"' in body


def test_generate_returns_tokens_with_candidates(server):
    """POST /api/generate: text of max_new_tokens tokens, each with its top-10 candidates."""
    status, body = request(server + "/api/generate", {"prompt": "masks", "max_new_tokens": 12, "seed": 3})
    result = json.loads(body)
    assert status == 200 and len(result["tokens"]) == 12
    assert result["text"] == "".join(t["text"] for t in result["tokens"])
    probs = [p for _, p in result["tokens"][0]["candidates"]]
    assert len(probs) == 10 and probs == sorted(probs, reverse=True)


def test_stream_sends_one_event_per_token(server):
    """POST /api/generate/stream: server-sent events, one per token, then a done event."""
    status, body = request(server + "/api/generate/stream", {"prompt": "tests", "max_new_tokens": 5, "seed": 1})
    events = [e for e in body.split("\n\n") if e.strip()]
    assert status == 200 and len(events) == 6 and events[-1].startswith("event: done")
    streamed = "".join(json.loads(e[len("data: "):])["text"] for e in events[:-1])
    _, whole = request(server + "/api/generate", {"prompt": "tests", "max_new_tokens": 5, "seed": 1})
    assert streamed == json.loads(whole)["text"]


@pytest.mark.parametrize("body, message", [
    ({"prompt": "x" * 5000}, "too long"),
    ({"prompt": 42}, "prompt must be a string"),
    ({"max_new_tokens": 5000}, "max_new_tokens must be between"),
    ({"max_new_tokens": "ten"}, "must be a number"),
    ({"temperature": 9}, "temperature must be between"),
    ({"temperature": -1}, "temperature must be between"),
    ({"top_p": 0}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_k": 0}, "top_k"),
    ({"colour": "blue"}, "unknown fields"),
])
def test_bad_parameters_get_a_400(server, body, message):
    """Out-of-range or wrongly typed parameters are answered 400 with an explanation."""
    status, text = request(server + "/api/generate", body)
    assert status == 400 and message in json.loads(text)["error"]


def test_malformed_json_and_unknown_routes(server):
    """Broken JSON is a 400, unknown routes are 404, other methods 405: always JSON errors."""
    status, text = request(server + "/api/generate", raw=b"{not json")
    assert status == 400 and "not valid JSON" in json.loads(text)["error"]
    assert request(server + "/api/nothing")[0] == 404
    assert request(server + "/api/nothing", {"a": 1})[0] == 404
    assert request(server + "/api/generate", method="DELETE")[0] == 405


def test_concurrent_requests_do_not_interfere(server):
    """Eight generations at once with the same seed all return the same text as one alone."""
    body = {"prompt": "vaccines", "max_new_tokens": 30, "seed": 7, "temperature": 1.0}
    _, alone = request(server + "/api/generate", body)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: request(server + "/api/generate", body), range(8)))
    assert all(status == 200 and json.loads(text)["text"] == json.loads(alone)["text"]
               for status, text in results)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_page_in_a_real_browser(server, tmp_path):
    """Load the page in headless Chromium, type a prompt, press Generate, wait for text, and open
    the candidates of one generated token."""
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright for the browser test")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.goto(server + "/")
            page.wait_for_function("document.getElementById('info').textContent.includes('char tokenizer')")
            page.fill("#prompt", "masks")
            page.fill("#max_new_tokens", "25")
            page.fill("#seed", "2")
            page.click("#generate")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('done')")
            assert page.locator("#output .tok").count() == 25
            page.locator("#output .tok").nth(3).click()
            page.wait_for_selector("#candidate-table tr")
            assert page.locator("#candidate-table tr").count() == 10
            page.screenshot(path=str(tmp_path / "playground.png"))
        finally:
            browser.close()
