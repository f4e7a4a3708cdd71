"""Shared fixtures: a real Chroma store in a temp folder, filled with the real articles."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path

import pytest

from ingest.index import ingest_into

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
QINGHAI = "002_7212ff25fdb82ffd.txt"
NAQU = "000_4f12d780ea965cae.txt"


LOGIC = {"test_attribution", "test_chunk", "test_constraints", "test_context", "test_embed", "test_eval", "test_layers", "test_load",
         "test_model_files", "test_sections", "test_units", "test_verify"}
"""Modules of pure logic, or of small real models without the LLM: `make test-fast` runs them."""


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in LOGIC:
            item.add_marker(pytest.mark.logic)


@pytest.fixture(scope="session")
def articles_dir(tmp_path_factory) -> Path:
    """A private copy of data/articles, so tests may add or edit files freely."""
    target = tmp_path_factory.mktemp("data") / "articles"
    shutil.copytree(ARTICLES, target)
    return target


@pytest.fixture(scope="session")
def settings(tmp_path_factory, articles_dir):
    from rag.settings import Settings

    return Settings.from_env(
        {"RAG_MODEL_DIR": os.environ.get("RAG_MODEL_DIR", str(Settings().model_dir))},
        store_dir=tmp_path_factory.mktemp("store") / "chroma",
        data_dir=articles_dir,
    )


@pytest.fixture(scope="session")
def engine(settings):
    """One engine over the two articles, shared by the end-to-end tests (models load once)."""
    from rag.engine import Engine

    eng = Engine(settings)
    report = ingest_into(eng, progress=False)
    assert report.counts.get("added") == 2, report.summary()
    return eng


@contextlib.contextmanager
def generating(engine, generator):
    """The engine answers with a stand-in `generator` (its `stream` as a backend's) while open,
    then with its own backend again: for tests of the logic around generation."""
    backend = engine.settings.backend
    kept = engine._generators.get(backend)
    engine._generators[backend] = generator
    try:
        yield
    finally:
        engine._generators.pop(backend)
        if kept is not None:
            engine._generators[backend] = kept


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ui(env: dict, log: Path, host: str = "127.0.0.1", args: tuple[str, ...] = ("--no-ingest",)):
    """`rag ui` in a subprocess, as a user starts it; returns (process, url) once it answers."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "ui", "--host", host, "--port", str(port), *args],
            env={**os.environ, **env}, stdout=out, stderr=out,
        )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    for _ in range(240):
        if proc.poll() is not None:
            pytest.fail(f"`rag ui` exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=1).status_code in (200, 401):
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"the chat page did not start; see {log}")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except Exception:  # noqa: BLE001 - a page that will not stop is killed
        proc.kill()


def start_chroma(path: Path, port: int):
    """A Chroma server started the documented way (`chroma run`), once it answers."""
    import subprocess
    import sys
    import time

    import httpx

    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(120):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("chroma server did not start")
