"""Train and measure the reader (rag.reader) on SQuAD, split by Wikipedia article.

    python -m train.reader pairs   [--questions N]   # labelled (question, passage) pairs, both halves
    python -m train.reader train   [--epochs N]      # fine-tune from the bundled MiniLM, dev half only
    python -m train.reader measure                   # AUC and rerank hit@k on the test half

A pair is (question, a passage the hybrid retriever returned for it). It is labelled 1 when the
passage is from the question's own paragraph and holds a gold answer span, 0 when it holds none;
a passage of another paragraph that happens to hold the span is left out (it may or may not
answer). The negatives are therefore the hard ones the engine meets: passages on the topic, often
from the same article, that do not state the answer.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

from eval import corpora

OUT = corpora.CACHE / "reader"
PER_QUESTION = 8  # candidates kept per question: the positive(s) and the top negatives


def build_pairs(n_questions: int | None, out: Path = OUT) -> dict:
    """Pairs for each half, from the questions of the SQuAD dev file (the squad store)."""
    from tqdm import tqdm

    from eval.public import corpus_engine
    from rag.retrieve import fuse_runs

    engine = corpus_engine("squad")
    paragraphs = corpora.squad_paragraphs()
    split = corpora.article_split(paragraphs)
    pool = [(p, q, a) for p in paragraphs for q, a in zip(p["questions"], p["answers"], strict=True)]
    random.Random(corpora.SEED).shuffle(pool)
    pool = pool[:n_questions] if n_questions else pool
    rows: dict[str, list] = {"dev": [], "test": []}
    questions = [q for _, q, _ in pool]
    vectors = engine.embedder.embed(questions)
    for (p, q, golds), vec in tqdm(list(zip(pool, vectors)), desc="pairs", unit="q"):
        hits = fuse_runs([engine.candidates(q, 20, vec)], 20, engine.settings.rrf_k)
        wanted = [corpora.normalise_answer(g) for g in golds]
        own = f"{p['id']}.txt"
        labelled = []
        for rank, h in enumerate(hits):
            text = f" {corpora.normalise_answer(h.chunk.text)} "
            holds = any(g and f" {g} " in text for g in wanted)
            mine = Path(h.chunk.source).name == own
            if holds and mine:
                labelled.append((h, 1, rank))
            elif not holds:
                labelled.append((h, 0, rank))
        positives = [x for x in labelled if x[1]]
        negatives = [x for x in labelled if not x[1]][: PER_QUESTION - len(positives)]
        for h, y, rank in sorted(positives + negatives, key=lambda x: x[2]):
            rows[split[p["article"]]].append({"question": q, "passage": passage_text(h.chunk), "label": y,
                                              "rank": rank, "qid": f"{p['id']}/{q[:40]}"})
    out.mkdir(parents=True, exist_ok=True)
    for half, items in rows.items():
        (out / f"pairs-{half}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    return {half: (len(items), sum(r["label"] for r in items)) for half, items in rows.items()}


def passage_text(chunk) -> str:
    from rag.reader import passage_text as text

    return text(chunk.header, chunk.text)


def load(half: str, out: Path = OUT) -> list[dict]:
    return [json.loads(line) for line in (out / f"pairs-{half}.jsonl").read_text().splitlines() if line]


def tuning_questions() -> set[str]:
    """The dev-half questions of the public sets: kept out of training, so the thresholds fitted
    on them (eval.answerability) see the scorer as it will meet new questions."""
    from eval.public import questions_for

    return {q.question for name in ("squad-answerable", "squad-unanswerable") for q in questions_for(name, "dev")}


def answer_span(passage: str, golds: Sequence[str]) -> tuple[int, int] | None:
    """Where a gold answer first appears in the passage's text (after its header line), exact
    case first; None when it does not (then only the passage's label is learnt)."""
    body = passage.index("\n") + 1 if "\n" in passage else 0
    for text in (passage, passage.lower()):
        for gold in golds:
            gold = gold if text is passage else gold.lower()
            at = text.find(gold, body) if gold.strip() else -1
            if at >= 0:
                return at, at + len(gold)
    return None


def token_targets(offsets, types, span: tuple[int, int] | None) -> tuple[int, int]:
    """The (start, end) token of a character span in the passage, or (0, 0) ("no answer", the
    first token) for a passage that does not answer; (-100, -100) (ignored) when it was cut off."""
    if span is None:
        return 0, 0
    first = last = None
    for i, ((a, b), t) in enumerate(zip(offsets, types, strict=True)):
        if t != 1 or b <= a:
            continue
        if first is None and b > span[0]:
            first = i
        if a < span[1]:
            last = i
    if first is None or last is None or last < first:
        return -100, -100
    return first, last


def train(epochs: int, batch: int, lr: float, trainable: int, limit: int | None, negatives: int,
          out: Path = OUT) -> None:
    """Fine-tune the top `trainable` layers and the two heads on the dev half (each question's
    positives and its `negatives` best-ranked negatives); save those weights (the fine-tuned layers only). Loss:
    the passage's label (answers or not) plus, for the span head, where the answer starts and
    ends, or the first token when the passage does not answer."""
    import torch

    from rag.reader import WEIGHTS, TorchReader, save_weights

    torch.manual_seed(0)
    golds = {q: a for p in corpora.squad_paragraphs() for q, a in zip(p["questions"], p["answers"], strict=True)}
    rows, kept, held_out = [], {}, tuning_questions()
    for r in load("dev"):
        if r["question"] in held_out:
            continue
        if r["label"] or kept.get(r["qid"], 0) < negatives:
            rows.append(r)
            kept[r["qid"]] = kept.get(r["qid"], 0) + (not r["label"])
    random.Random(0).shuffle(rows)
    rows = rows[:limit] if limit else rows
    scorer = TorchReader(weights=None)
    model = scorer.model
    names = scorer.trainable_names(trainable)
    for name, param in model.named_parameters():
        param.requires_grad = name in names
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * ((len(rows) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
    label_loss = torch.nn.BCEWithLogitsLoss()
    span_loss = torch.nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    t0, step = time.time(), 0
    for epoch in range(epochs):
        random.Random(epoch).shuffle(rows)
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            enc = scorer.encode([r["question"] for r in part], [r["passage"] for r in part], offsets=True)
            targets = [token_targets(enc["offset_mapping"][j].tolist(), enc["token_type_ids"][j].tolist(),
                                     answer_span(r["passage"], golds[r["question"]]) if r["label"] else None)
                       for j, r in enumerate(part)]
            score, start, end = scorer.forward(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
            loss = label_loss(score, torch.tensor([float(r["label"]) for r in part]))
            loss = loss + (span_loss(start, torch.tensor([t[0] for t in targets]))
                           + span_loss(end, torch.tensor([t[1] for t in targets]))) / 2
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 50 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    digest = save_weights(model, names, WEIGHTS)
    print(f"saved {WEIGHTS} ({WEIGHTS.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s; "
          f"set rag.reader.WEIGHTS_SHA256 = {digest!r}")


def measure(half: str = "test", limit: int | None = None) -> dict:
    """Pair AUC of the answer logit and of the span margin, how often the top-ranked passage
    answers before and after reranking, and how often the span read from a passage that answers
    is a gold answer (SQuAD normalisation) or lies in the sentence that holds one."""
    from eval.answerability import auc
    from rag.reader import Reader
    from rag.text import split_sentences

    golds = {q: a for p in corpora.squad_paragraphs() for q, a in zip(p["questions"], p["answers"], strict=True)}
    by_q: dict[str, list[dict]] = {}
    for r in load(half):
        by_q.setdefault(r["qid"], []).append(r)
    qids = list(by_q)[:limit] if limit else list(by_q)
    scorer = Reader()
    scores, margins, labels, top_before, top_after, exact, in_sentence, read = [], [], [], 0, 0, 0, 0, 0
    t0 = time.time()
    for qid in qids:
        items = by_q[qid]
        question = items[0]["question"]
        readings = scorer.read(question, [r["passage"] for r in items])
        scores += [x.score for x in readings]
        margins += [x.span_score for x in readings]
        labels += [bool(r["label"]) for r in items]
        top_before += items[0]["label"]  # the hybrid retriever's first
        top_after += items[max(range(len(items)), key=lambda i: readings[i].score)]["label"]
        wanted = {corpora.normalise_answer(g) for g in golds[question]}
        for r, x in zip(items, readings, strict=True):
            if not r["label"] or x.span is None:
                continue
            read += 1
            exact += corpora.normalise_answer(r["passage"][x.span[0] : x.span[1]]) in wanted
            sentence = next((r["passage"][a:b] for a, b in split_sentences(r["passage"]) if a <= x.span[0] < b), "")
            in_sentence += corpora.contains_gold(sentence, tuple(golds[question]))
    n = len(qids)
    report = {"half": half, "questions": n, "pairs": len(labels), "auc": round(auc(scores, labels), 4),
              "span_margin_auc": round(auc(margins, labels), 4),
              "top1_retrieval": round(top_before / n, 4), "top1_reranked": round(top_after / n, 4), "any_answers": round(sum(
                  any(r["label"] for r in by_q[q]) for q in qids) / n, 4),
              "span_exact": round(exact / max(read, 1), 4), "span_sentence_holds_gold": round(in_sentence / max(read, 1), 4),
              "seconds_per_pair": round((time.time() - t0) / len(labels), 4)}
    print(json.dumps(report))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pairs")
    p.add_argument("--questions", type=int, default=None)
    t = sub.add_parser("train")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--trainable", type=int, default=6, help="top encoder layers to fine-tune (6: all)")
    t.add_argument("--limit", type=int, default=None)
    t.add_argument("--negatives", type=int, default=3)
    m = sub.add_parser("measure")
    m.add_argument("--half", default="test")
    m.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    if args.command == "pairs":
        print(build_pairs(args.questions))
    elif args.command == "train":
        train(args.epochs, args.batch, args.lr, args.trainable, args.limit, args.negatives)
    else:
        measure(args.half, args.limit)


if __name__ == "__main__":
    main()
