"""Several people on one chat page at once: queue wait p50/p95 and answers per minute.

Starts `rag ui` over the two starting articles (a temporary store), then N sessions through the
public API (`gradio_client`), each asking a question and a follow-up, all at once. One CPU model
answers one question at a time, so the waits grow with N; the figure to watch is that answers per
minute stays what one session gets alone (no time lost to contention).

    .venv/bin/python -m bench.concurrency [--sessions 1,4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from eval.metrics import percentile

AUTH = ("bench", "bench-password-123")
TOPICS = [
    ("How much aid money has Zhejiang given Qinghai since 2010?", "And how many projects?"),
    ("Who led the delegation to Naqu?", "And when did they arrive there?"),
]


def session(url: str, asked: tuple[str, ...], backends: tuple[str, ...], auth=AUTH) -> dict:
    """One client's turns; returns its chat, the queue places it was shown and each turn's wait."""
    from gradio_client import Client

    client = Client(url, auth=auth, verbose=False)
    chat, ranks, waits = [], [], []
    for question, backend in zip(asked, backends, strict=True):
        submitted = time.perf_counter()
        job = client.submit(question, chat, 3, backend, 0.1, api_name="/ask")
        started = None
        while not job.done():
            status = job.status()
            if status.rank is not None and status.rank > 0:
                ranks.append(status.rank)
            elif started is None and status.code.name in ("PROCESSING", "ITERATING"):
                started = time.perf_counter()
            time.sleep(0.05)
        chat = job.outputs()[-1][0]
        waits.append((started or time.perf_counter()) - submitted)
    return {"chat": chat, "ranks": ranks, "waits": waits}


def sessions_at_once(url: str, n: int, backends: tuple[str, ...] = ("llamacpp", "llamacpp")) -> tuple[list[dict], float]:
    results: list[dict] = [{} for _ in range(n)]

    def run(i):
        results[i] = {"topic": i % len(TOPICS), **session(url, TOPICS[i % len(TOPICS)], backends)}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results, time.perf_counter() - t


def start_page(store: Path, data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_STORE_DIR": str(store), "RAG_DATA_DIR": str(data), "RAG_UI_AUTH": ":".join(AUTH)}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "ui", "--port", str(port)], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            httpx.get(url, timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the page did not start; see {log}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", default="1,4,8", help="comma-separated session counts")
    p.add_argument("--out", type=Path, default=Path("bench/out/concurrency.json"))
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_page(Path(tmp) / "store", Path("data"), Path(tmp) / "ui.log")
        try:
            for n in (int(x) for x in args.sessions.split(",")):
                results, wall = sessions_at_once(url, n)
                waits = [w for r in results for w in r["waits"]]
                rows.append({
                    "sessions": n,
                    "answers": len(waits),
                    "wait_p50_s": round(percentile(waits, 50), 2),
                    "wait_p95_s": round(percentile(waits, 95), 2),
                    "answers_per_min": round(60 * len(waits) / wall, 1),
                    "sessions_shown_a_queue_place": sum(bool(r["ranks"]) for r in results),
                })
                print(json.dumps(rows[-1]), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
