"""A real Chroma server started the documented way, then ingest and a query against it."""

import shutil

import pytest
from conftest import ARTICLES, free_port, start_chroma

from ingest.index import ingest_into
from rag.engine import Engine
from rag.store import StoreError


def test_ingest_and_query_through_a_chroma_server(settings, tmp_path):
    port = free_port()
    proc = start_chroma(tmp_path / "server", port)
    try:
        data = tmp_path / "articles"
        shutil.copytree(ARTICLES, data)
        engine = Engine(settings.replace(chroma_host="127.0.0.1", chroma_port=port, data_dir=data))
        assert ingest_into(engine, progress=False).counts == {"added": 2}
        assert ingest_into(engine, progress=False).counts == {"unchanged": 2}
        assert engine.status()["store"] == f"http://127.0.0.1:{port}"
        answer = engine.answer("How much aid money has Zhejiang given Qinghai since 2010?", backend="extractive")
        assert "848 million" in answer.text and answer.citations
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    stopped = Engine(settings.replace(chroma_host="127.0.0.1", chroma_port=port))
    with pytest.raises(StoreError, match="Cannot reach the Chroma server.*chroma run"):
        stopped.answer("Who led the delegation?", backend="extractive")
