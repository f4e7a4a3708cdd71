"""A folder of more than 100 bad files (tests/helpers/malformed.py) ingested beside good ones:
each bad file is reported with a reason, the readable odd ones go in, nothing indexed before is
lost, and the run stays within bounds of time and memory (a child process, so both are its own)."""

import json
import os
import subprocess
import sys
import threading
import time

from conftest import ARTICLES, ROOT
from helpers.malformed import write_corpus

RUN = """
import json, sys
from pathlib import Path
from bench.common import own_peak_mb
from rag.engine import Engine
from rag.settings import Settings
from ingest.index import ingest_into
engine = Engine(Settings.from_env())
report = ingest_into(engine, [Path(p) for p in sys.argv[1:]], progress=False)
print(json.dumps({
    "results": [[r.path, r.status, r.reason] for r in report.results],
    "summary": report.summary(),
    "titles": sorted(m["title"] for m in engine.store.articles()),
    "peak_mb": own_peak_mb(),
}))
"""


def _ingest(store, *paths, timeout=900):
    env = {**os.environ, "RAG_STORE_DIR": str(store)}
    t = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", RUN, *map(str, paths)], env=env, capture_output=True,
                            text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), time.perf_counter() - t


def test_a_hundred_bad_files_are_each_reported_and_lose_nothing(tmp_path):
    store, bad = tmp_path / "store", tmp_path / "bad"
    before, _ = _ingest(store, ARTICLES)
    expect = write_corpus(bad)
    assert len(expect) >= 100

    growing = bad / "misc" / "growing.txt"  # a file that changes while the run reads the folder
    growing.write_text("Growing log\n\nThe first line of a log that grows.\n")
    stop = threading.Event()

    def append():
        n = 0
        while not stop.is_set():
            with open(growing, "a") as f:
                f.write(f"Line {n} appended while ingest runs.\n")
            n += 1
            time.sleep(0.01)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        run, seconds = _ingest(store, bad)
    finally:
        stop.set()
        writer.join()

    reported = {os.path.relpath(path, bad): (status, reason) for path, status, reason in run["results"]}
    for name, (status, why) in expect.items():
        if status == "ignored":
            assert name not in reported, name
            continue
        assert name in reported, f"{name!r} was not reported"
        got, reason = reported[name]
        assert got == status, (name, got, reason)
        if got == "skipped":
            assert reason and why in reason.lower(), (name, reason)
    assert reported["misc/growing.txt"][0] == "added"
    assert set(before["titles"]) <= set(run["titles"])  # nothing indexed before was lost
    assert run["peak_mb"] < 4000, run["peak_mb"]  # the 1 GB PDF bomb and 50 MB files stay bounded
    assert seconds < 900

    again, _ = _ingest(store, bad)  # the grown file is picked up whole, the rest is unchanged
    statuses = {os.path.relpath(p, bad): s for p, s, _ in again["results"]}
    assert statuses["misc/growing.txt"] == "updated"
    assert all(s in ("unchanged", "skipped") for n, s in statuses.items() if n != "misc/growing.txt")
