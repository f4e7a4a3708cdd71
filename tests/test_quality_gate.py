"""The quality gate: the article question set through the real bundled LLM, scored by `rag eval`.

Fails when answer accuracy, refusal recall or citation precision fall below eval.run.THRESHOLDS.
The report lands in test-output/eval/ (report.md lists every failure and why).
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from eval.run import THRESHOLDS

pytestmark = pytest.mark.e2e


def test_article_set_meets_the_thresholds(engine, settings):
    out = ROOT / "test-output" / "eval"
    env = {**os.environ, "RAG_STORE_DIR": str(settings.store_dir), "RAG_DATA_DIR": str(settings.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", "--json", "--gate", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=3600,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(summary, indent=2))
    assert (out / "report.md").exists() and (out / "accuracy_by_category.png").exists()
    assert summary["n_questions"] >= 40
    for name, floor in THRESHOLDS.items():
        assert summary[name] >= floor, f"{name} {summary[name]} < {floor}; see {out / 'report.md'}"
    assert result.returncode == 0, result.stderr[-2000:]
