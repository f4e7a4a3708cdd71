"""eval.ablation on recorded drafts: the real store, embedder, reader and checks, no LLM."""

import json

from conftest import QINGHAI

from eval.ablation import CHECKS, replay
from rag import steps


def test_the_ablation_shows_what_a_check_adds_on_the_same_draft(engine, settings, tmp_path, monkeypatch):
    """A draft giving the total "since 2010" for "since 2015" is refused in every arrangement
    with the constraints step, and answered in those without it."""
    question = "How much has Zhejiang spent on helping Qinghai since 2015?"
    turn = steps.Turn(question, settings, [], frozenset())
    for step in (steps.condense, steps.retrieve, steps.rerank, steps.widen):
        step(engine, turn)
    n = next(i for i, h in enumerate(turn.hits, 1) if "848 million" in h.chunk.text)  # "Since 2010, ... 848 million yuan"
    questions = tmp_path / "since-2015.jsonl"
    questions.write_text(json.dumps({
        "id": "since-2015", "question": question, "category": "unanswerable",
        "reference_answer": "The articles don't say.", "required_facts": [], "gold_doc": QINGHAI,
        "gold_quote": "", "answerable": False,
    }) + "\n", encoding="utf-8")
    recorded = tmp_path / "run" / "tiny"
    recorded.mkdir(parents=True)
    draft = f"Zhejiang has given Qinghai 848 million yuan [{n}]."
    # asked again with the passages reversed (`recheck`, on in every arrangement here), the same answer
    record = {"question": question, "draft": draft, "recheck_draft": draft}
    (recorded / "report.json").write_text(json.dumps({"results": [record]}))
    monkeypatch.setenv("RAG_STORE_DIR", str(settings.store_dir))
    monkeypatch.setenv("RAG_DATA_DIR", str(settings.data_dir))

    checks = {name: CHECKS[name] for name in ("constraints", "reader floor")}
    results = replay(tmp_path / "run", {"tiny": ["--set", str(questions)]}, checks)

    assert set(results) == {"all", "none", "only constraints", "only reader floor",
                            "all but constraints", "all but reader floor"}
    right = {name: row["tiny"] for name, row in results.items()}  # refusing is right here
    assert right["all"] == right["only constraints"] == right["all but reader floor"] == 1.0
    assert right["none"] == right["all but constraints"] == 0.0
    replayed = json.loads((tmp_path / "run" / "ablation" / "all" / "tiny" / "report.json").read_text())
    assert replayed["results"][0]["refused_by"] == "constraints"
