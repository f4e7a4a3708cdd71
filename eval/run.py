"""The evaluation harness: asks every question through the public `rag.answer`, as a user's
script would, scores it with `eval.metrics`, and writes report.json, report.md and charts."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval import metrics as m
from rag.steps import checks_s

DEFAULT_SET = Path(__file__).with_name("questions.jsonl")
# The floors. Measured 2026-11-24 (bundled Qwen2.5-Coder-1.5B, k=3): accuracy 0.896, refusal
# recall 1.0, citation precision 0.971. Raise these as quality improves; never lower them.
THRESHOLDS = {"answer_accuracy": 0.85, "refusal_recall": 0.8, "citation_precision": 0.95}


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    category: str
    reference_answer: str
    required_facts: list
    gold_doc: tuple[str, ...]
    gold_quote: str
    answerable: bool
    history: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Result(m.Kept):
    id: str
    question: str
    category: str
    answerable: bool
    answer: str
    refused: bool
    correct: bool
    why: str
    searched: str
    retrieved_docs: list[str] = field(default_factory=list)
    doc_hit: bool | None = None
    doc_rr: float | None = None
    quote_hit: bool | None = None
    grounded: tuple[int, int] = (0, 0)
    precise_citations: tuple[int, int] = (0, 0)
    gold_doc_cited: bool | None = None


def load_questions(path: Path = DEFAULT_SET) -> list[Question]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            gold = d.get("gold_doc") or []
            out.append(
                Question(
                    id=d["id"],
                    question=d["question"],
                    category=d["category"],
                    reference_answer=d.get("reference_answer", ""),
                    required_facts=d.get("required_facts", []),
                    gold_doc=tuple([gold] if isinstance(gold, str) else gold),
                    gold_quote=d.get("gold_quote", ""),
                    answerable=bool(d["answerable"]),
                    history=tuple(tuple(p) for p in d.get("history", [])),
                )
            )
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: not a valid question record ({exc})") from exc
    return out


def score(q: Question, a) -> Result:
    """One question's record, from the public Answer only."""
    hits_by_id = {h.chunk.id: h for h in a.hits}
    names = [Path(h.chunk.source).name for h in a.hits]
    gold = set(q.gold_doc)
    cited = {c.n: hits_by_id[c.chunk_id] for c in a.citations if c.chunk_id in hits_by_id}
    passages = {n: f"{h.chunk.header}\n{h.chunk.text}" for n, h in cited.items()}
    precise = sum(m.citation_precise(h.chunk.text, q.required_facts, q.gold_quote) for h in cited.values())
    correct = m.answer_correct(a.text, a.refused, q.required_facts, q.answerable)
    if correct:
        why = ""
    elif not q.answerable:
        why = "answered a question the articles cannot answer"
    elif a.refused:
        detail = f", answerability {a.signals['answerable']:.2f}" if a.refused_by == "answerability" else ""
        detail += f", unstated: {', '.join(a.unstated)}" if a.unstated else ""
        detail += "".join(f" (the passages write {near!r})" for _, near in a.respelled)
        why = f"refused an answerable question (by {a.refused_by or 'the engine'}{detail})"
    else:
        missing = [f for f in q.required_facts if not m.fact_present(a.text, f)]
        why = f"missing facts: {missing}"
    return Result(
        id=q.id,
        question=q.question,
        category=q.category,
        answerable=q.answerable,
        answer=a.text,
        refused=a.refused,
        correct=correct,
        why=why,
        searched=a.searched,
        retrieved_docs=names,
        doc_hit=m.hit_at_k(names, gold, len(names)) if gold else None,
        doc_rr=m.reciprocal_rank(names, gold) if gold else None,
        quote_hit=m.quote_recalled([h.chunk.text for h in a.hits], q.gold_quote) if q.gold_quote and q.answerable else None,
        grounded=m.grounded_sentences(a.text, passages) if not a.refused else (0, 0),
        precise_citations=(precise, len(cited)) if q.answerable and not a.refused else (0, 0),
        gold_doc_cited=any(Path(c.source).name in gold for c in a.citations) if q.answerable and not a.refused else None,
        **m.kept(a),
    )


def evaluate(questions: list[Question], answer: Callable, progress: bool = True, **overrides) -> list[Result]:
    from tqdm import tqdm

    results = []
    for q in tqdm(questions, desc="Evaluating", unit="q", disable=not progress):
        results.append(score(q, answer(q.question, list(q.history) or None, **overrides)))
    return results


def summarize(results: list[Result]) -> dict:
    def mean(xs):
        xs = [x for x in xs if x is not None]
        return round(sum(xs) / len(xs), 4) if xs else None

    precision, recall = m.refusal_scores([r.refused for r in results], [r.answerable for r in results])
    grounded = [r.grounded for r in results if r.grounded[1]]
    precise = [r.precise_citations for r in results if r.precise_citations[1]]
    total = [r.timings.get("total_s", 0.0) for r in results]
    first = [r.timings.get("first_token_s") for r in results if r.timings.get("first_token_s") is not None]
    retrieve = [r.timings.get("retrieve_s", 0.0) for r in results]
    check = [c for r in results if (c := checks_s(r.timings)) is not None]
    return {
        "n_questions": len(results),
        "n_answerable": sum(r.answerable for r in results),
        "answer_accuracy": mean([r.correct for r in results]),
        "answerable_accuracy": mean([r.correct for r in results if r.answerable]),
        "refusal_precision": round(precision, 4),
        "refusal_recall": round(recall, 4),
        "citation_precision": round(sum(p for p, _ in precise) / sum(t for _, t in precise), 4) if precise else None,
        "citation_recall": mean([r.gold_doc_cited for r in results]),
        "grounding_rate": round(sum(s for s, _ in grounded) / sum(t for _, t in grounded), 4) if grounded else None,
        "retrieval_hit_at_k": mean([r.doc_hit for r in results]),
        "mrr": mean([r.doc_rr for r in results]),
        "quote_recall_at_k": mean([r.quote_hit for r in results]),
        "latency_p50_s": round(m.percentile(total, 50), 3),
        "latency_p95_s": round(m.percentile(total, 95), 3),
        "first_token_p50_s": round(m.percentile(first, 50), 3),
        "first_token_p95_s": round(m.percentile(first, 95), 3),
        "retrieval_p50_s": round(m.percentile(retrieve, 50), 4),
        "retrieval_p95_s": round(m.percentile(retrieve, 95), 4),
        "check_p50_s": round(m.percentile(check, 50), 4),
        "check_p95_s": round(m.percentile(check, 95), 4),
        **m.llm_speed([(r.timings, r.signals) for r in results]),
        "refused_by": m.refusals_by_step([r.refused_by for r in results]),
    }


def by_category(results: list[Result]) -> dict[str, dict]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        groups[r.category].append(r)
    return {c: {"n": len(rs), "accuracy": round(sum(r.correct for r in rs) / len(rs), 4)} for c, rs in sorted(groups.items())}


def gate(summary: dict, thresholds: dict = THRESHOLDS) -> list[str]:
    """The metrics below their threshold, as sentences; empty when the gate passes."""
    return [
        f"{name} {summary.get(name)} < {floor}"
        for name, floor in thresholds.items()
        if summary.get(name) is None or summary[name] < floor
    ]


def compare(new: dict, old: dict) -> str:
    lines = ["| metric | old | new | change |", "|---|---|---|---|"]
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, int | float) and isinstance(before, int | float):
            lines.append(f"| {key} | {before} | {value} | {value - before:+.4f} |")
    return "\n".join(lines)


def write_report(results: list[Result], summary: dict, out: Path, settings_note: str = "") -> None:
    out.mkdir(parents=True, exist_ok=True)
    categories = by_category(results)
    (out / "report.json").write_text(
        json.dumps({"summary": summary, "categories": categories, "results": [asdict(r) for r in results]}, indent=2)
    )
    lines = [f"# Evaluation report\n\n{settings_note}\n", "## Summary\n", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary.items()]
    lines += ["\n## By category\n", "| category | n | accuracy |", "|---|---|---|"]
    lines += [f"| {c} | {v['n']} | {v['accuracy']} |" for c, v in categories.items()]
    failures = [r for r in results if not r.correct]
    lines.append(f"\n## Failures ({len(failures)})\n")
    for r in failures:
        cites = "; ".join(f"[{c['n']}] {c['source']}: \"{c['quote'][:160]}\"" for c in r.citations) or "none"
        lines.append(f"- **{r.id}** ({r.category}) {r.question}\n  - answer: {r.answer}\n  - citations: {cites}\n  - why: {r.why}")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    _charts(results, categories, summary, out)


def _charts(results, categories, summary, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(categories)
    ax.bar(names, [categories[c]["accuracy"] for c in names], color="#2563eb")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title("Answer accuracy by category")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / "accuracy_by_category.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist([r.timings.get("total_s", 0.0) for r in results], bins=20, color="#f59e0b")
    for key, style in (("latency_p50_s", "--"), ("latency_p95_s", ":")):
        ax.axvline(summary[key], color="black", linestyle=style, label=f"{key[8:11]} {summary[key]:.1f} s")
    ax.set_xlabel("seconds per answer")
    ax.set_ylabel("questions")
    ax.set_title("Answer latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=100)
    plt.close(fig)


def main(args, settings) -> int:
    """`rag eval`: run, report, optionally compare and gate."""
    import rag
    from rag.engine import get_engine

    questions = load_questions(args.question_set or DEFAULT_SET)  # a bad file is named first
    get_engine().require_articles()  # the engine `rag.answer` uses
    overrides = {k: v for k, v in {"k": args.k, "backend": args.backend}.items() if v is not None}
    results = evaluate(questions, rag.answer, progress=not args.json, **overrides)
    summary = summarize(results)
    used = settings.replace(**overrides)
    write_report(results, summary, args.out, f"backend `{used.backend}`, k={used.k}, {len(questions)} questions")
    if args.json:
        print(json.dumps(summary))
    else:
        print("\n".join(f"{k}: {v}" for k, v in summary.items()))
        print(f"report: {args.out / 'report.md'}")
    if args.compare:
        old = json.loads(Path(args.compare).read_text())
        print(compare(summary, old.get("summary", old)), file=sys.stderr if args.json else sys.stdout)
    if args.gate:
        failed = gate(summary)
        if failed:
            print("quality gate failed: " + "; ".join(failed), file=sys.stderr)
            return 1
        print("quality gate passed", file=sys.stderr)
    return 0
