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
from scratchlstm.checkpoint import save_checkpoint
from scratchlstm.server import make_server
from scratchlstm.text import CharTokenizer
from scratchlstm.training import Trainer
from scratchlstm.transformer import TransformerLanguageModel

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


@pytest.fixture(scope="module")
def transformer_server(tmp_path_factory):
    """An (untrained) char transformer served the same way: it has no LSTM units."""
    path = tmp_path_factory.mktemp("serve-transformer") / "t.npz"
    tok = CharTokenizer().fit(TEXT)
    save_checkpoint(path, TransformerLanguageModel(tok.vocab_size, 16, 2, 1, block_size=8, seed=0), tok)
    srv = make_server(path, host="127.0.0.1", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
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


def test_info_says_which_units_there_are(server, transformer_server):
    """/api/info tells the page whether there are LSTM units to show (layers, units per layer)
    and which example prompts this tokenizer can encode; a transformer has none, and says its
    context length instead."""
    info = json.loads(request(server + "/api/info")[1])
    assert info["units"] == {"layers": 1, "hidden": 32} and info["context"] is None
    assert "masks" in info["examples"]
    t = json.loads(request(transformer_server + "/api/info")[1])
    assert t["units"] is None and t["context"] == 8 and t["kind"] == "TransformerLanguageModel"
    assert "transformer" in t["model"]


def test_generate_returns_the_units_of_every_token(server):
    """With "activations": true every token carries h and c of every unit and the mean of each
    gate, per layer, and the text is the one generated without them."""
    body = {"prompt": "masks", "max_new_tokens": 8, "seed": 3}
    plain = json.loads(request(server + "/api/generate", body)[1])
    status, text = request(server + "/api/generate", dict(body, activations=True))
    result = json.loads(text)
    assert status == 200 and result["text"] == plain["text"]
    for token in result["tokens"]:
        a = token["activations"]
        assert len(a["h"]) == len(a["c"]) == 1 and len(a["h"][0]) == len(a["c"][0]) == 32
        assert all(-1 <= v <= 1 for v in a["h"][0])
        assert all(0 <= a[g][0] <= 1 for g in "ifo") and -1 <= a["g"][0] <= 1
    assert "activations" not in plain["tokens"][0]
    status, text = request(server + "/api/generate", dict(body, activations="yes"))
    assert status == 400 and "activations must be true or false" in json.loads(text)["error"]


def test_a_transformer_has_no_units_to_return(transformer_server):
    """Asking a transformer for LSTM units is a 400 that says why; plain generation works, with a
    prompt longer than its context (fed in chunks of block_size)."""
    status, text = request(transformer_server + "/api/generate", {"prompt": "masks", "activations": True})
    assert status == 400 and "no LSTM units" in json.loads(text)["error"]
    status, text = request(transformer_server + "/api/generate",
                           {"prompt": "vaccines train the immune system", "max_new_tokens": 5, "seed": 0})
    assert status == 200 and len(json.loads(text)["tokens"]) == 5


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


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def test_page_in_a_real_browser(server, transformer_server, tmp_path):
    """Headless Chromium: pick an example prompt, generate with Ctrl+Enter, see tokens/s, open the
    candidates of a token, and look inside the LSTM: the tokens are coloured by the most varied
    unit first; another signal (the mean forget gate) recolours them. A rejected request clears
    everything of the previous run. At a phone's 360 px nothing is wider than the screen. A
    transformer checkpoint hides the unit view and says why."""
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright for the browser test")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(server + "/")
            page.wait_for_function("document.getElementById('info').textContent.includes('char tokenizer')")
            page.locator("#examples button", has_text="masks").first.click()
            assert page.input_value("#prompt") == "masks"
            page.fill("#max_new_tokens", "25")
            page.fill("#seed", "2")
            page.press("#prompt", "Control+Enter")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('done')")
            assert page.locator("#output .tok").count() == 25
            assert "tokens/s" in page.text_content("#status")
            page.locator("#output .tok").nth(3).click()
            page.wait_for_selector("#candidate-table tr")
            assert page.locator("#candidate-table tr").count() == 10

            # the view into the LSTM
            assert page.is_visible("#unit-view")
            variances = page.eval_on_selector_all("#unit-index option", "os => os.map(o => Number(o.dataset.variance))")
            assert len(variances) == 32 and variances == sorted(variances, reverse=True) and variances[0] > 0
            first = page.eval_on_selector_all("#output .tok", "ts => ts.map(t => [t.dataset.value, t.style.backgroundColor])")
            assert all(value is not None and colour for value, colour in first)
            assert len({value for value, _ in first}) > 1
            page.screenshot(path=str(tmp_path / "playground.png"))
            page.select_option("#unit-signal", "f")
            page.wait_for_function("document.getElementById('unit-summary').textContent.includes('forget gate')")
            forget = page.eval_on_selector_all("#output .tok", "ts => ts.map(t => Number(t.dataset.value))")
            assert all(0 <= v <= 1 for v in forget) and [str(v) for v in forget] != [v for v, _ in first]
            assert page.is_disabled("#unit-index")
            page.select_option("#unit-signal", "c")
            second_unit = page.eval_on_selector_all("#unit-index option", "os => os[1].value")
            page.select_option("#unit-index", second_unit)
            assert f"cell unit {second_unit} of layer 1" in page.text_content("#unit-summary")

            # a rejected request leaves nothing of the previous run on the page
            page.fill("#max_new_tokens", "5000")
            page.click("#generate")
            page.wait_for_function("document.getElementById('error').textContent.includes('max_new_tokens')")
            assert page.locator("#output .tok").count() == 0
            assert page.text_content("#candidates") == "Hover or click a generated token."
            assert not page.is_visible("#unit-view")

            # a phone's width
            page.set_viewport_size({"width": 360, "height": 740})
            page.fill("#max_new_tokens", "40")
            page.click("#generate")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('done')")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.screenshot(path=str(tmp_path / "playground-360.png"), full_page=True)

            # a transformer: no units, and the page says so
            page.goto(transformer_server + "/")
            page.wait_for_function("document.getElementById('units-hint').textContent.includes('transformer')")
            assert not page.is_visible("#unit-view") and not page.is_visible("#record-label")
            page.click("#generate")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('done')")
            assert page.text_content("#error") == ""
        finally:
            browser.close()
