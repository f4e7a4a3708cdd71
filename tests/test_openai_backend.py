"""The OpenAI-compatible backend against a real server: llama-cpp-python's own
(`python -m llama_cpp.server`, the `[server]` extra) serving the bundled GGUF on loopback.

Also the team deployment of docs/deployment.md: a Chroma server and this model server, both on
loopback, end to end. Servers that fail (down, slow, erroring) are real HTTP servers too.
"""

import http.server
import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import ARTICLES, free_port, start_chroma

from ingest.index import ingest_into
from rag.engine import Engine
from rag.generate import GeneratorError
from rag.model_files import ensure_model
from ui.app import Handlers

pytestmark = pytest.mark.e2e
QUESTION = "How much aid money has Zhejiang given Qinghai since 2010?"


@pytest.fixture(scope="module")
def llama_server(settings):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(ensure_model(settings.model_dir)),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(settings.n_threads),
         "--model_alias", "bundled-qwen", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            if httpx.get(base + "/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("python -m llama_cpp.server did not start")
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def remote(engine, llama_server):
    """The test engine's store, answering through the model server."""
    return Engine(engine.settings.replace(backend="openai", openai_base_url=llama_server, openai_model="bundled-qwen"))


def test_streams_and_cites_like_the_embedded_backend(remote):
    items = list(remote.stream(QUESTION))
    *pieces, answer = items
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)  # streamed, not one block
    assert not answer.refused and "848 million" in answer.text
    cited = [c for c in answer.citations if "848 million" in c.quote]
    assert cited and cited[0].source.endswith("002_7212ff25fdb82ffd.txt")
    with open(cited[0].source, encoding="utf-8") as f:
        assert f.read()[cited[0].start : cited[0].end] == cited[0].quote


def test_the_page_switches_to_it(remote):
    steps = list(Handlers(remote).respond("Who led the delegation to Naqu?", [], [], 3, "openai", 0.1))
    assert len(steps) > 2 and 'class="draft"' in steps[1][0][-1]["content"]
    assert "Zhu Congjiu" in steps[-1][0][-1]["content"] and 'id="cite-1"' in steps[-1][1]


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """500 with the request's Authorization echoed back (as a careless proxy might), or a hang."""

    def do_POST(self):  # noqa: N802 - the stdlib's name
        if self.server.mode == "slow":
            time.sleep(5)
        body = f"upstream failed; you sent {self.headers.get('Authorization')}".encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def misbehaving():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    server.mode = "error"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_a_failing_server_is_one_clear_error_without_the_key(engine, misbehaving):
    base = f"http://127.0.0.1:{misbehaving.server_port}/v1"
    broken = Engine(engine.settings.replace(
        backend="openai", openai_base_url=base, openai_api_key="sk-test-secret-0123", request_timeout_s=1.0,
    ))
    with pytest.raises(GeneratorError, match="answered 500") as err:
        broken.answer(QUESTION)
    assert "sk-test-secret-0123" not in str(err.value) and "***" in str(err.value)
    misbehaving.mode = "slow"
    with pytest.raises(GeneratorError, match="did not answer within 1 s"):
        broken.answer(QUESTION)


def test_team_deployment_chroma_server_and_model_server(settings, llama_server, tmp_path):
    port = free_port()
    chroma = start_chroma(tmp_path / "chroma", port)
    try:
        data = tmp_path / "articles"
        shutil.copytree(ARTICLES, data)
        team = Engine(settings.replace(
            chroma_host="127.0.0.1", chroma_port=port, data_dir=data,
            backend="openai", openai_base_url=llama_server, openai_model="bundled-qwen",
        ))
        assert ingest_into(team, progress=False).counts == {"added": 2}
        answer = team.answer(QUESTION)
        assert "848 million" in answer.text and answer.citations
        assert team.status()["store"] == f"http://127.0.0.1:{port}"
    finally:
        chroma.terminate()
        chroma.wait(timeout=30)
