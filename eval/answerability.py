"""Fit and measure the answerability decision on the SQuAD dev halves.

    python -m eval.answerability collect [--n 60] [--no-read] [--split dev] [--out FILE]
                                                     # answer dev questions, keep every signal
    python -m eval.answerability fit                 # per-signal AUC, the combined model, a threshold

`collect` runs squad-answerable and squad-unanswerable (dev halves; `--split test` only to report
a model chosen on dev) with the reader on (`RAG_READ`; `--no-read` for the default engine's model)
and the decision off, so each answer's signals can be scored against whether giving it was right:
an answerable question's answer that contains a gold span is right to give; any answer to an
unanswerable question is wrong to give. `fit` reports how well each signal alone separates the
two (ROC AUC), fits a logistic regression over all of them, and picks the threshold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / ".rag" / "eval" / "answerability.json"
FEATURES = ("dense", "coverage", "quote_coverage", "quote_similarity", "missing_numbers", "reader", "reader_span",
            "reader_agrees")
KEPT = ("coverage", "quote_similarity", "reader")
BASE = ("coverage", "quote_similarity")
"""The default engine's model, without the reader (collect with --no-read)."""


def collect(n: int, out: Path = OUT, read: bool = True, split: str = "dev") -> None:
    from eval.public import run

    rows, asked = [], {}
    for name in ("squad-answerable", "squad-unanswerable"):
        # every verified fallback is let through (min_extractive tiny), so `fit` can choose its threshold
        _, records = run(name, split, n, read=read, min_answerable=0.0, min_extractive=1e-6)
        for r in records:
            if not r.refused:
                rows.append({"set": name, "id": r.id, "good": bool(r.answerable and r.right), "question": r.question,
                             "answer": r.answer, "reference": r.reference, **r.signals})
        refused = sum(r.refused for r in records)
        asked[name] = len(records)
        print(f"{name}: {len(records)} asked, {refused} refused before the decision")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    out.with_suffix(".asked.json").write_text(json.dumps(asked))


def auc(scores: list[float], labels: list[bool]) -> float:
    """Probability that a good answer scores above a bad one (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def fit(path: Path = OUT) -> dict:
    """Per-signal AUC, cross-validated AUC of signal sets, the kept model's weights, and what each
    threshold does to the two sets (answers holding gold; unanswerable questions refused)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    rows = json.loads(path.read_text())
    labels = [r["good"] for r in rows]
    known = [f for f in FEATURES if all(f in r for r in rows)]  # collected with --no-read: no reader signals
    kept = KEPT if set(KEPT) <= set(known) else BASE
    report: dict = {"answers": len(rows), "good": sum(labels), "single_auc": {}, "combined_auc_cv": {}}
    for f in known:
        sign = -1 if f == "missing_numbers" else 1
        report["single_auc"][f] = round(auc([sign * float(r[f]) for r in rows], labels), 3)

    def cv_scores(features):
        matrix = [[float(r[f]) for f in features] for r in rows]
        return list(cross_val_predict(LogisticRegression(max_iter=1000), matrix, labels, cv=5, method="predict_proba")[:, 1])

    for features in (FEATURES, KEPT, BASE, ("reader", "reader_span", "reader_agrees"),
                     ("coverage", "quote_similarity", "reader_span"), ("coverage", "quote_similarity", "reader_agrees"),
                     ("coverage", "quote_similarity", "reader", "reader_span")):
        features = tuple(f for f in features if f in known)
        if features:
            report["combined_auc_cv"]["+".join(features)] = round(auc(cv_scores(features), labels), 3)
    model = LogisticRegression(max_iter=1000).fit([[float(r[f]) for f in kept] for r in rows], labels)
    report["weights"] = dict(zip(kept, (round(float(w), 4) for w in model.coef_[0])))
    report["bias"] = round(float(model.intercept_[0]), 4)
    scores = cv_scores(kept)
    asked = json.loads(path.with_suffix(".asked.json").read_text())
    report["thresholds"] = {
        t: shares([r for r, p in zip(rows, scores) if p >= t], asked) for t in (0.0, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    }
    report["extractive"] = extractive(rows, scores, asked)
    return report


def shares(given: list[dict], asked: dict) -> dict:
    """What giving exactly the answers in `given` does to each set, as shares of its asked questions."""
    n_ans, n_un = asked["squad-answerable"], asked["squad-unanswerable"]
    ans = [r for r in given if r["set"] == "squad-answerable"]
    un = [r for r in given if r["set"] == "squad-unanswerable"]
    return {
        "answerable_contains_gold": round(sum(r["good"] for r in ans) / n_ans, 3),
        "answerable_refused": round(1 - len(ans) / n_ans, 3),
        "unanswerable_refused": round(1 - len(un) / n_un, 3),
    }


def extractive(rows: list[dict], scores: list[float], asked: dict, t: float = 0.35) -> dict:
    """The fallback when verification drops the model's answer (`min_extractive`): `collect` lets every verified
    fallback through, so each threshold e can be simulated. Model answers are kept at `t`."""
    out = {}
    for e in (None, 0.35, 0.45, 0.55, 0.65, 0.75):
        given = [r for r, p in zip(rows, scores)
                 if ((e is not None and p >= e) if r.get("extractive") else p >= t)]
        out[f"e={e}"] = shares(given, asked) | {"fallbacks_given": sum(bool(r.get("extractive")) for r in given)}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("step", choices=("collect", "fit"))
    p.add_argument("--n", type=int, default=60, help="dev questions of each set")
    p.add_argument("--no-read", dest="read", action="store_false", help="collect without the reader (the default engine)")
    p.add_argument("--split", default="dev", choices=("dev", "test"), help="test: only to report a model chosen on dev")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    if args.step == "collect":
        collect(args.n, args.out, args.read, args.split)
    print(json.dumps(fit(args.out), indent=2))


if __name__ == "__main__":
    main()
