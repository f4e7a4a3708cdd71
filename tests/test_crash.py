"""Crash safety of ingest: kill -9 at chosen writes, rerun, and compare with a clean build.

An article is either fully in the store or absent (and not searched) until the next run puts it
back whole: mid-article for an article of more than 1,000 chunks (Chroma pages of 1,000), and
mid-update (after the new chunks, before the old ones are deleted). One writer at a time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ingest.index import delete_article, ingest_into

CRASH = ROOT / "tests" / "helpers" / "crash_ingest.py"
# One process: optionally ingest, then dump the store (and what a search sees), as JSON.
DUMP = """
import json, sys
from rag.engine import Engine
from rag.settings import Settings
from ingest.index import delete_article, ingest_into
engine = Engine(Settings.from_env())
summary = ingest_into(engine, progress=False).summary() if "ingest" in sys.argv else ""
store = engine.store
got = store.collection().get(include=["documents", "metadatas"])
rows = sorted(zip(got["ids"], got["documents"], [json.dumps(m, sort_keys=True) for m in got["metadatas"]]))
seen = [h.chunk.title for h in engine.retrieve("What did the river gauge at station 5 read?", 10,
                                                  exclude=store.pending())]
keywords = [[c.title, c.id, round(s, 4)] for c, s in engine.keywords().search("gauge station ferry storm people", 30)]
print(json.dumps({"rows": rows, "pending": sorted(store.pending()), "summary": summary, "searched": seen,
                  "keywords": keywords}))
"""


def _env(store: Path, data: Path) -> dict:
    # Small chunks make an article of more than 1,000 chunks cheap to embed.
    return {**os.environ, "RAG_STORE_DIR": str(store), "RAG_DATA_DIR": str(data),
            "RAG_CHUNK_TOKENS": "20", "RAG_OVERLAP_TOKENS": "0"}


def _run(args: list[str], store: Path, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=_env(store, data), capture_output=True, text=True,
                          timeout=900, cwd=ROOT)


def _dump(store: Path, data: Path, ingest: bool = False) -> dict:
    result = _run(["-c", DUMP, *(["ingest"] if ingest else [])], store, data)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # llama-index prints a note for tiny chunks


def _same(a: dict, b: dict) -> bool:
    """The same chunks, nothing pending, and the same keyword index (rag.bm25) over them."""
    return a["rows"] == b["rows"] and a["pending"] == b["pending"] == [] and a["keywords"] == b["keywords"]


@pytest.fixture
def corpus(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    lines = [f"Gauge record {i}: the river gauge at station {i} read {i % 7}.{i % 10} metres on day {i}."
             for i in range(1050)]
    (data / "big.txt").write_text("River gauge ledger\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (data / "ferry.txt").write_text("Ferry news\n\nThe Zanzibar ferry carried 900 people on 3 May.\n")
    (data / "tide.txt").write_text("Tide report\n\nThe spring tide reached 4.1 metres at the harbour.\n")
    return data


def test_killed_mid_article_then_rerun_equals_a_clean_build(corpus, tmp_path):
    store = tmp_path / "store"
    killed = _run([str(CRASH), "upsert", "1"], store, corpus)  # big.txt's first page of 1,000 chunks
    assert killed.returncode == -9, killed.stderr
    half = _dump(store, corpus)
    assert half["pending"] and 0 < len(half["rows"]) <= 1000
    assert "River gauge ledger" not in half["searched"]  # a half-written article is not searched

    done = _dump(store, corpus, ingest=True)
    assert "Cleared 1 half-written" in done["summary"], done["summary"]
    assert len(done["rows"]) > 1000 and "River gauge ledger" in done["searched"]
    assert _same(done, _dump(tmp_path / "clean", corpus, ingest=True))


def test_killed_mid_update_then_rerun_equals_a_clean_build(corpus, tmp_path):
    store = tmp_path / "store"
    assert _run(["-m", "ui.cli", "ingest", "--quiet"], store, corpus).returncode == 0
    (corpus / "ferry.txt").write_text("Ferry news\n\nThe Zanzibar ferry carried 950 people on 4 May.\n")
    killed = _run([str(CRASH), "delete", "1"], store, corpus)  # new chunks in, old ones not yet out
    assert killed.returncode == -9, killed.stderr
    done = _dump(store, corpus, ingest=True)
    assert "Cleared 1 half-written" in done["summary"], done["summary"]
    assert _same(done, _dump(tmp_path / "clean", corpus, ingest=True))


@pytest.mark.parametrize("writes", [2, 3])
def test_killed_around_the_generation_change_then_rerun_equals_a_clean_build(corpus, tmp_path, writes):
    """The keyword index is extended from the generation before a change (rag.bm25): a kill after
    the chunks went in must never leave them under that generation, where a rerun would find the
    article unchanged and its keywords missing. Metadata writes of the run: the batch's pending
    marker, then its clearing with the new generation, then the final generation change."""
    store = tmp_path / "store"
    assert _run(["-m", "ui.cli", "ingest", "--quiet"], store, corpus).returncode == 0
    (corpus / "storm.txt").write_text("Storm warning\n\nA storm closed the ferry port for two days.\n")
    killed = _run([str(CRASH), "modify", str(writes)], store, corpus)
    assert killed.returncode == -9, killed.stderr
    done = _dump(store, corpus, ingest=True)
    assert "Storm warning" in [title for title, _, _ in done["keywords"]]
    assert _same(done, _dump(tmp_path / "clean", corpus, ingest=True))


def test_a_second_writer_is_told_the_store_is_busy(engine, settings):
    with engine.store.writing():
        result = subprocess.run(
            [sys.executable, "-m", "ui.cli", "ingest", "--quiet"],
            env={**os.environ, "RAG_STORE_DIR": str(settings.store_dir), "RAG_DATA_DIR": str(settings.data_dir)},
            capture_output=True, text=True, timeout=300,
        )
    assert result.returncode == 1 and "is busy" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert ingest_into(engine, progress=False).counts == {"unchanged": 2}  # free again once released


def test_rebuild_of_some_paths_keeps_the_other_articles(engine, settings, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "tide.txt").write_text("Tide report\n\nThe spring tide reached 4.1 metres at the harbour.\n")
    ingest_into(engine, [extra], progress=False)
    report = ingest_into(engine, [extra], rebuild=True, progress=False)
    assert report.counts == {"added": 1}
    titles = [m["title"] for m in engine.store.articles()]
    assert "Tide report" in titles and len(titles) == 3  # the two starting articles were not dropped
    delete_article(engine, next(m["doc_id"] for m in engine.store.articles() if m["title"] == "Tide report"))
    assert not engine.retrieve_bm25("spring tide harbour", 3)  # the keyword index follows the delete
    (extra / "ferry.txt").write_text("Ferry news\n\nThe Zanzibar ferry carried 900 people.\n")
    ingest_into(engine, [extra], progress=False)
    (extra / "ferry.txt").unlink()
    ingest_into(engine, [extra], rebuild=True, progress=False)  # drops the file that is gone
    assert not engine.retrieve_bm25("Zanzibar ferry", 3)
    assert "Tide report" in engine.retrieve_bm25("spring tide harbour", 3)[0].chunk.title
    delete_article(engine, next(m["doc_id"] for m in engine.store.articles() if m["title"] == "Tide report"))
    assert len(engine.store.articles()) == 2  # the shared store as the other tests expect it
