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

from eval.ablation import rag_eval
from eval.run import THRESHOLDS

pytestmark = pytest.mark.e2e


def test_article_set_meets_the_thresholds(engine, settings):
    out = ROOT / "test-output" / "eval"
    env = {**os.environ, "RAG_STORE_DIR": str(settings.store_dir), "RAG_DATA_DIR": str(settings.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "eval", "--json", "--gate", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=3600,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(summary, indent=2))
    assert (out / "report.md").exists() and (out / "accuracy_by_category.png").exists()
    assert summary["n_questions"] >= 40
    for name, floor in THRESHOLDS.items():
        assert summary[name] >= floor, f"{name} {summary[name]} < {floor}; see {out / 'report.md'}"
    assert result.returncode == 0, result.stderr[-2000:]


def _rag_eval(*args: str, env: dict | None = None) -> dict:
    summary = rag_eval(list(args), env, timeout=3600)[-1]
    print(json.dumps(summary, indent=2))
    return summary


# The first 20 questions of each public set's test half (issue 7). Measured on them 2026-11-27:
# contains gold 0.55, unanswerable refused 0.75; since the checks of 2026-12-05 to 12-07, 0.55 and
# 0.65 (13 of 20), while the whole unanswerable half rose 0.740 -> 0.800 (docs/evaluation.md,
# "Public sets", has the whole halves). The floors leave two questions of slack, since another
# CPU's kernels can move an answer or two.
PUBLIC_FLOORS = {
    "squad-answerable": {"contains_gold": 0.45},
    "squad-unanswerable": {"refused": 0.55},
}


@pytest.mark.parametrize("name", sorted(PUBLIC_FLOORS))
def test_public_set_sample_meets_its_floor(name):
    from eval.corpora import SQUAD

    if not SQUAD.exists():
        pytest.skip(f"{SQUAD} is missing: the public sets need shared/ beside the checkout")
    out = ROOT / "test-output" / "eval"
    summary = _rag_eval("--set", name, "--split", "test", "--limit", "20", "--out", str(out))
    assert summary["n"] == 20 and (out / f"{name}.md").exists()
    for metric, floor in PUBLIC_FLOORS[name].items():
        assert summary[metric] >= floor, f"{name}: {metric} {summary[metric]} < {floor}; see {out / name}.md"


def test_headline_question_in_other_words(engine, settings):
    """The wordings of "how much did Zhejiang give Qinghai" get the fact each asks for: the amount,
    the projects, or both."""
    out = ROOT / "test-output" / "eval-headline"
    env = {"RAG_STORE_DIR": str(settings.store_dir), "RAG_DATA_DIR": str(settings.data_dir)}
    summary = _rag_eval("--set", str(ROOT / "eval" / "sets" / "headline.jsonl"), "--out", str(out), env=env)
    assert summary["n_questions"] == 12
    assert summary["answer_accuracy"] >= HEADLINE_FLOOR, f"see {out / 'report.md'}"


HEADLINE_FLOOR = 0.5  # 7 of 12 on 2026-12-03, each wording scored on the fact it asks for (the
# earlier 0.75 accepted the amount or the projects for every wording); README, "How good it is now" (8 of 12
# without drafts, 7 of 12 with them, the default, on 2026-12-07 and 12-08)
