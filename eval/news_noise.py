"""The news-noise benchmark (`shared/benchmarks/news-noise`), by its own protocol: each question
gets a store of its own holding only its snippets, one snippet a document, and is asked once.

    rag eval --set news-noise            # both modes: noise-only (must refuse), positive+noise
    rag eval --set news-noise --limit 10

Noise-only: the share refused, and every answer given, printed for reading. Positive+noise: the
share whose answer contains one of the accepted answers (case and punctuation folded). Both: the
answers a person read (`eval/sets/news-noise-verdicts.jsonl`, a verdict per exact answer text),
as the benchmark's README asks: a few noise snippets do state the answer, and a few answers are
right as the snippets write them ("Liu Yifei" for "Yifei Liu").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from eval import corpora
from eval.metrics import kept
from eval.public import Record, load_verdicts, summarize
from ingest.index import ingest_into

QUESTIONS = corpora.SHARED / "benchmarks" / "news-noise" / "questions.jsonl"
MODES = ("noise", "positive")
SETS = tuple(f"news-{mode}" for mode in MODES)
VERDICTS = corpora.SETS_DIR / "news-noise-verdicts.jsonl"


def load(path: Path = QUESTIONS) -> list[dict]:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the news-noise benchmark lives in shared/benchmarks.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def snippets(q: dict, mode: str) -> list[str]:
    return list(q["noise"]) if mode == "noise" else [*q["positive"], *q["noise"]]


def _engine_for(q: dict, mode: str, base, **overrides):
    """An engine over this question's own store, sharing the models already loaded by `base`."""
    from rag.engine import Engine
    from rag.settings import Settings

    folder = corpora.CACHE / "news-noise" / f"{q['id']:03d}-{mode}"
    texts = snippets(q, mode)
    # A text file's first line is its title (ingest.load): a neutral one, so no words are added.
    wanted = {f"snippet-{i:02d}.txt": f"Search result {i + 1}\n\n{t}\n" for i, t in enumerate(texts)}
    if folder.exists() and {p.name for p in folder.iterdir()} != set(wanted):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    settings = Settings.from_env(
        data_dir=folder, store_dir=corpora.CACHE / "news-noise" / "chroma", collection=f"q{q['id']:03d}-{mode}",
        **overrides,
    )
    engine = Engine(settings, models=base)  # one set of models for the fifty stores
    ingest_into(engine, progress=False)
    return engine


def run(mode: str, limit: int | None = None, progress: bool = True, **overrides):
    """(summary, records) for one mode over the benchmark's questions."""
    from tqdm import tqdm

    records, base = [], None
    for q in tqdm(load()[:limit] if limit else load(), desc=f"news-{mode}", unit="q", disable=not progress):
        engine = _engine_for(q, mode, base, **overrides)
        base = base or engine
        a = engine.answer(q["question"])
        answerable = mode == "positive"
        right = corpora.contains_gold(a.text, q["answers"]) if answerable and not a.refused else (
            a.refused if not answerable else False)
        records.append(Record(
            str(q["id"]), q["question"], answerable, a.text, a.refused, right,
            reference=" | ".join(q["answers"]),
            retrieved=[Path(h.chunk.source).name for h in a.hits], **kept(a),
        ))
    summary = summarize(f"news-{mode}", records)
    summary["right"] = round(sum(bool(r.right) for r in records) / len(records), 4) if records else None
    summary |= reading(mode, records)
    return summary, records


def reading(mode: str, records: list[Record], path: Path = VERDICTS) -> dict:
    """The answers given that the automatic score does not already count right, by a person's
    reading: how many were read right, partly right or wrong, how many are unread (an answer
    text not read before), and for positive+noise the share right by reading."""
    read = load_verdicts(path)
    given = [r for r in records if not r.refused and not (mode == "positive" and r.right)]
    verdicts = [read.get((f"{mode}-{r.id}", r.answer)) for r in given]
    out = {f"read_{kind}": sum(v == kind for v in verdicts) for kind in ("right", "partly", "wrong")}
    out["unread"] = sum(v is None for v in verdicts)
    if mode == "positive" and records:
        out["right_by_reading"] = round((sum(bool(r.right) for r in records) + out["read_right"]) / len(records), 4)
    return out

