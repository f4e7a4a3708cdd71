"""Shared fixtures: a real Chroma store in a temp folder, filled with the real articles."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
QINGHAI = "002_7212ff25fdb82ffd.txt"
NAQU = "000_4f12d780ea965cae.txt"


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
    report = eng.ingest(progress=False)
    assert report.counts.get("added") == 2, report.summary()
    return eng


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
