"""A real Chroma server started the documented way, then ingest and a query against it."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ARTICLES, free_port

from rag.engine import Engine
from rag.store import StoreError


def _start(path: Path, port: int) -> subprocess.Popen:
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    for _ in range(120):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("chroma server did not start")


def test_ingest_and_query_through_a_chroma_server(settings, tmp_path):
    port = free_port()
    proc = _start(tmp_path / "server", port)
    try:
        data = tmp_path / "articles"
        shutil.copytree(ARTICLES, data)
        engine = Engine(settings.replace(chroma_host="127.0.0.1", chroma_port=port, data_dir=data))
        assert engine.ingest(progress=False).counts == {"added": 2}
        assert engine.ingest(progress=False).counts == {"unchanged": 2}
        assert engine.status()["store"] == f"http://127.0.0.1:{port}"
        answer = engine.answer("How much aid money has Zhejiang given Qinghai since 2010?", backend="extractive")
        assert "848 million" in answer.text and answer.citations
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    stopped = Engine(settings.replace(chroma_host="127.0.0.1", chroma_port=port))
    with pytest.raises(StoreError, match="Cannot reach the Chroma server.*chroma run"):
        stopped.answer("Who led the delegation?", backend="extractive")
