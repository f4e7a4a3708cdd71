"""Run a public set (`eval.corpora`) through an engine over its own corpus, and report.

    rag eval --set squad-answerable --split dev [--limit N]
    rag eval --set squad-unanswerable --split test
    rag eval --set papers

The corpora are indexed once into `.rag/eval/<corpus>/` and reused (ingest skips what is unchanged).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval import corpora
from eval.metrics import Kept, kept, llm_speed, percentile, refusals_by_step
from ingest.index import ingest_into
from rag.steps import checks_s
from rag.text import strip_markers

PUBLIC_SETS = ("squad-answerable", "squad-unanswerable", "papers", "news-noise")


@dataclass(frozen=True)
class Record(Kept):
    id: str
    question: str
    answerable: bool
    answer: str
    refused: bool
    right: bool | None
    """Contains a gold span (SQuAD answerable), was refused (unanswerable); None for papers."""
    reference: str = ""
    similarity: float | None = None
    """Papers: cosine similarity of the answer to the reference answer (the automatic proxy)."""
    retrieved: list[str] = field(default_factory=list)
    gold_retrieved: bool | None = None


def corpus_engine(name: str, progress: bool = True, **overrides):
    """An engine over the named corpus ("squad" or "papers"), indexed on first use."""
    from rag.engine import Engine
    from rag.settings import Settings

    if name == "squad":
        folder = corpora.CACHE / "squad" / "articles"
        corpora.write_articles(corpora.squad_paragraphs(), folder)
    else:
        folder = corpora.PAPER_PDFS
    settings = Settings.from_env(data_dir=folder, store_dir=corpora.CACHE / name / "chroma", **overrides)
    engine = Engine(settings)
    report = ingest_into(engine, progress=progress)
    if progress:
        print(report.summary(), file=sys.stderr)
    return engine


def questions_for(name: str, split: str | None = None, limit: int | None = None) -> list[corpora.SetQuestion]:
    if name == "papers":
        qs = corpora.papers_set()
    else:
        kind = name.split("-", 1)[1]
        qs = corpora.squad_set(corpora.squad_paragraphs(), kind)
    qs = [q for q in qs if split in (None, "all") or q.split == split]
    return qs[:limit] if limit else qs


def run(name: str, split: str | None = "dev", limit: int | None = None, progress: bool = True, **overrides):
    """(summary, records) for one public set."""
    from tqdm import tqdm

    from rag.ids import doc_id_for

    engine = corpus_engine("papers" if name == "papers" else "squad", progress, **overrides)
    folder = engine.settings.data_dir
    records = []
    for q in tqdm(questions_for(name, split, limit), desc=name, unit="q", disable=not progress):
        exclude = frozenset(doc_id_for(folder / f) for f in q.exclude)
        a = engine.answer(q.question, exclude=exclude)
        retrieved = [Path(h.chunk.source).name for h in a.hits]
        if name == "papers":
            right, sim = None, _similarity(engine, a.text, q.answers[0]) if not a.refused else 0.0
        else:
            right, sim = (corpora.contains_gold(a.text, q.answers) if q.answerable else a.refused), None
        records.append(
            Record(
                q.id, q.question, q.answerable, a.text, a.refused, right,
                reference=q.answers[0] if name == "papers" else " | ".join(q.answers),
                similarity=sim,
                retrieved=retrieved,
                gold_retrieved=(q.gold_doc in retrieved) if q.gold_doc else None,
                **kept(a),
            )
        )
    return summarize(name, records), records


def summarize(name: str, records: list[Record]) -> dict:
    def rate(xs):
        xs = list(xs)
        return round(sum(xs) / len(xs), 4) if xs else None

    answerable = [r for r in records if r.answerable]
    total = [r.timings.get("total_s", 0.0) for r in records]
    first = [r.timings["first_token_s"] for r in records if "first_token_s" in r.timings]
    out = {
        "set": name,
        "n": len(records),
        "refused": rate(r.refused for r in records),
        "gold_retrieved": rate(r.gold_retrieved for r in records if r.gold_retrieved is not None),
        "latency_p50_s": round(percentile(total, 50), 2),
        "latency_p95_s": round(percentile(total, 95), 2),
        "first_token_p50_s": round(percentile(first, 50), 2),
        "check_p50_s": round(percentile([c for r in records if (c := checks_s(r.timings)) is not None], 50), 4),
        "prompt_tokens_p50": percentile([r.signals.get("prompt_tokens", 0) for r in records], 50),
        **llm_speed([(r.timings, r.signals) for r in records]),
        "refused_by": refusals_by_step([r.refused_by for r in records]),
    }
    if name == "squad-answerable":
        out["contains_gold"] = rate(r.right for r in answerable)
    if name == "papers":
        out["similarity_mean"] = rate(r.similarity or 0.0 for r in records)
        out |= papers_verdicts(records)
    return out


VERDICTS = corpora.SETS_DIR / "papers-verdicts.jsonl"


def load_verdicts(path: Path) -> dict[tuple[str, str], str]:
    """(id, exact answer text) -> a person's verdict (right, partly, wrong, refused); empty when
    the file does not exist."""
    if not path.exists():
        return {}
    read = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            read[(d["id"], d["answer"])] = d["verdict"]
    return read


def papers_verdicts(records: list[Record], path: Path = VERDICTS) -> dict:
    """Shares of right / partly / wrong / refused by a person's reading, for the answers that
    were read (a verdict holds for one exact answer text), and how often the automatic proxy
    (similarity >= 0.6 means right or partly) agrees with the reading."""
    read = load_verdicts(path)
    if not read:
        return {}
    verdicts = [(read.get((r.id, r.answer)), r) for r in records]
    judged = [(v, r) for v, r in verdicts if v]
    if not judged:
        return {"read": 0}
    out = {"read": len(judged)}
    for kind in ("right", "partly", "wrong", "refused"):
        out[f"read_{kind}"] = round(sum(v == kind for v, _ in judged) / len(judged), 4)  # not the run's "refused"
    answered = [(v, r) for v, r in judged if v != "refused"]
    if answered:
        agree = sum((v in ("right", "partly")) == ((r.similarity or 0) >= 0.6) for v, r in answered)
        out["proxy_agreement"] = round(agree / len(answered), 4)
    return out


def _similarity(engine, answer: str, reference: str) -> float:

    a, b = engine.embedder.embed([strip_markers(answer), reference])
    return round(sum(x * y for x, y in zip(a, b)), 4)


def write(summary: dict, records: list[Record], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    name = summary["set"]
    (out / f"{name}.json").write_text(json.dumps({"summary": summary, "records": [asdict(r) for r in records]}, indent=2))
    lines = [f"# {name}\n", "| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in summary.items()), ""]
    for r in records:
        mark = {True: "right", False: "WRONG", None: "?"}[r.right]
        lines.append(f"- **{r.id}** [{mark}] {r.question}\n  - answer: {r.answer}\n  - reference: {r.reference[:300]}")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


def main(args) -> int:
    overrides = {k: v for k, v in {"k": args.k, "backend": args.backend}.items() if v is not None}
    if args.question_set == "news-noise":  # two modes, each question in a store of its own
        from eval import news_noise

        results = [news_noise.run(mode, args.limit, not args.json, **overrides) for mode in news_noise.MODES]
    else:
        results = [run(args.question_set, args.split, args.limit, progress=not args.json, **overrides)]
    for summary, records in results:
        write(summary, records, args.out)
        print(json.dumps(summary) if args.json else "\n".join(f"{k}: {v}" for k, v in summary.items()))
    return 0
