"""The public evaluation sets and the corpora they are asked against.

- `squad-answerable`: SQuAD v1.1 dev questions, every paragraph indexed; scored on whether the
  answer contains a gold span, and on refusals.
- `squad-unanswerable`: SQuAD questions asked with their own paragraph left out of retrieval,
  kept only when no other paragraph holds a gold answer; the article's other paragraphs stay as
  near misses. Every one should be refused.
- `papers`: questions by others about research papers (`shared/benchmarks/papers`), asked
  against the four PDFs of `shared/corpus-pdf` indexed together.
- `rewordings`, `headline`: rewordings of `eval/questions.jsonl`, over the starting articles.

Each SQuAD set is split by Wikipedia article into a dev half (tune on it) and a test half
(report only), with fixed seeds, so no paragraph is shared between the halves.
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path

from rag.text import strip_markers

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SQUAD = SHARED / "benchmarks" / "squad" / "dev-v1.1.json"
PAPERS = SHARED / "benchmarks" / "papers" / "questions.jsonl"
PAPER_PDFS = SHARED / "corpus-pdf"
SETS_DIR = Path(__file__).with_name("sets")
CACHE = ROOT / ".rag" / "eval"
SEED = 7


@dataclass(frozen=True)
class SetQuestion:
    """A question of a public set: what is asked, what counts as right, and what is hidden."""

    id: str
    question: str
    answers: tuple[str, ...]
    """Gold spans (SQuAD) or the reference answer (papers); empty when it must be refused."""
    answerable: bool
    split: str
    gold_doc: str = ""
    exclude: tuple[str, ...] = ()
    """Files left out of retrieval for this question (its own paragraph, for squad-unanswerable)."""


def squad_paragraphs(path: Path = SQUAD) -> list[dict]:
    """[{id, title, context, questions: [str], answers: [[str]]}] in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        title = article["title"].replace("_", " ")
        for i, para in enumerate(article["paragraphs"]):
            out.append(
                {
                    "id": f"{article['title']}-{i:03d}",
                    "article": article["title"],
                    "title": title,
                    "context": para["context"],
                    "questions": [qa["question"] for qa in para["qas"]],
                    "answers": [[a["text"] for a in qa["answers"]] for qa in para["qas"]],
                }
            )
    return out


def write_articles(paragraphs: list[dict], folder: Path) -> None:
    """One .txt per paragraph: the article title as its first line, as a news file would be."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in paragraphs:
        target = folder / f"{p['id']}.txt"
        text = f"{p['title']}\n\n{p['context']}\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def article_split(paragraphs: list[dict], seed: int = SEED) -> dict[str, str]:
    """Wikipedia article -> "dev" or "test", half each, fixed by the seed."""
    titles = sorted({p["article"] for p in paragraphs})
    random.Random(seed).shuffle(titles)
    return {t: ("dev" if i < len(titles) // 2 else "test") for i, t in enumerate(titles)}


def squad_set(paragraphs: list[dict], kind: str, n: int = 300, seed: int = SEED) -> list[SetQuestion]:
    """`n` questions of `kind` ("answerable" or "unanswerable"), half from each split."""
    split = article_split(paragraphs)
    rng = random.Random(f"{seed}-{kind}")
    pool = [
        (p, q, tuple(a))
        for p in paragraphs
        for q, a in zip(p["questions"], p["answers"], strict=True)
    ]
    rng.shuffle(pool)
    contexts = [(p["id"], normalise_answer(p["context"])) for p in paragraphs] if kind == "unanswerable" else []
    out: dict[str, list[SetQuestion]] = {"dev": [], "test": []}
    for p, q, golds in pool:
        half = split[p["article"]]
        if len(out[half]) >= n // 2:
            if all(len(v) >= n // 2 for v in out.values()):
                break
            continue
        if kind == "unanswerable":
            wanted = [normalise_answer(g) for g in golds]
            if any(g and g in text for pid, text in contexts if pid != p["id"] for g in wanted):
                continue  # another paragraph answers it: not unanswerable
            out[half].append(SetQuestion(f"{p['id']}/{len(out[half])}", q, (), False, half, exclude=(f"{p['id']}.txt",)))
        else:
            out[half].append(SetQuestion(f"{p['id']}/{len(out[half])}", q, golds, True, half, gold_doc=f"{p['id']}.txt"))
    return out["dev"] + out["test"]


def papers_set(path: Path = PAPERS) -> list[SetQuestion]:
    """The papers dev set: every question is answerable from its paper."""
    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if line.strip():
            d = json.loads(line)
            out.append(SetQuestion(f"paper-{i:02d}", d["question"], (d["reference_answer"],), True, "dev", d["paper"]))
    return out


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def contains_gold(answer: str, golds: tuple[str, ...]) -> bool:
    flat = normalise_answer(strip_markers(answer))
    return any(g and f" {g} " in f" {flat} " for g in map(normalise_answer, golds))
