"""Helpers shared by the benchmarks: the SQuAD corpus written out as article files."""

from __future__ import annotations

import json
from pathlib import Path

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "squad" / "dev-v1.1.json"


def squad_paragraphs(path: Path = SQUAD) -> list[dict]:
    """[{id, title, context, questions: [str]}] in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        title = article["title"].replace("_", " ")
        for i, para in enumerate(article["paragraphs"]):
            out.append(
                {
                    "id": f"{article['title']}-{i:03d}",
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
        (folder / f"{p['id']}.txt").write_text(f"{p['title']}\n\n{p['context']}\n", encoding="utf-8")
