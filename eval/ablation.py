"""What each check adds, measured on the same recorded drafts (`rag eval --replay`).

    python -m eval.ablation RUN_DIR --record   # ask every dev set for real, one folder per set, once
    python -m eval.ablation RUN_DIR            # replay them with the checks in each arrangement

The checks after generation are chosen by replaying recorded drafts, because two real runs of
the bundled model differ in an answer or two whatever changed (eval/replay.py). This replays
every recorded set with the checks arranged so as to answer "what does this one add": all of them
(the settings in force), none, each alone, and each left out of the rest. A check whose "all but"
row equals the "all" row adds nothing beside the others and can be retired. The table goes to
stdout and RUN_DIR/ablation.md, its scores to RUN_DIR/ablation.json, and each replay's own report
to RUN_DIR/ablation/<arrangement>/<set>/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETS: dict[str, list[str]] = {
    "news": ["--set", "news-noise"],
    "q48": [],
    "rewordings": ["--set", str(ROOT / "eval" / "sets" / "rewordings.jsonl")],
    "headline": ["--set", str(ROOT / "eval" / "sets" / "headline.jsonl")],
    "papers": ["--set", "papers"],
    "squad-answerable": ["--set", "squad-answerable", "--split", "dev"],
    "squad-unanswerable": ["--set", "squad-unanswerable", "--split", "dev"],
}
"""The dev sets, by the folder that holds each one's recorded run: `rag eval` arguments."""

CHECKS: dict[str, dict[str, str]] = {
    "constraints": {"RAG_CHECK_CONSTRAINTS": "false"},
    "answer type": {"RAG_CHECK_ANSWER_TYPE": "false"},
    "reader floor": {"RAG_MIN_READER": "0"},
    "recheck": {"RAG_RECHECK_BELOW": "0"},
    "fallback": {"RAG_MIN_EXTRACTIVE": "0"},
}
"""Each check after verification, by the settings that turn it off (rag/settings.py)."""

SCORES: dict[str, str] = {
    "news-noise": "refused",
    "news-positive": "right",
    "papers": "refused",
    "squad-answerable": "contains_gold",
    "squad-unanswerable": "refused",
}
"""The score of each public set's summary (by its `set`); a question file's is `answer_accuracy`."""


def arrangements(checks: dict[str, dict[str, str]] = CHECKS) -> dict[str, dict[str, str]]:
    """Arrangement name -> the settings that make it: all, none, each alone, all but each."""
    def off(names) -> dict[str, str]:
        return {k: v for name in names for k, v in checks[name].items()}

    out = {"all": {}, "none": off(checks)}
    out |= {f"only {name}": off(n for n in checks if n != name) for name in checks}
    out |= {f"all but {name}": off([name]) for name in checks}
    return out


def scores(folder: str, summaries: list[dict]) -> dict[str, float]:
    """Column -> score, from the summaries one `rag eval --json` printed for a set."""
    out = {}
    for s in summaries:
        name = s.get("set")
        out[name or folder] = s[SCORES[name]] if name in SCORES else s["answer_accuracy"]
    return out


def table(results: dict[str, dict[str, float]]) -> str:
    """Markdown: one row per arrangement, one column per score."""
    columns = list(dict.fromkeys(c for row in results.values() for c in row))
    lines = ["| checks | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in results.items():
        cells = [f"{row[c]:.3f}" if c in row else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rag_eval(args: list[str], env: dict[str, str] | None = None, timeout: float | None = None) -> list[dict]:
    """`rag eval --json ARGS` in its own process, as a user runs it (its own model and store):
    one dict per JSON line printed, each set's summary, in order. A failed run raises with its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "eval", "--json", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"rag eval {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def record(run: Path, sets: dict[str, list[str]]) -> None:
    """Ask every set for real with the settings in force, each into its folder under `run`."""
    for folder, args in sets.items():
        print(f"recording {folder} ...", file=sys.stderr, flush=True)
        rag_eval([*args, "--out", str(run / folder)], {})


def replay(run: Path, sets: dict[str, list[str]], checks: dict[str, dict[str, str]] = CHECKS) -> dict:
    """Arrangement -> column -> score, every set replayed from its recording under `run`."""
    missing = [folder for folder in sets if not (run / folder).is_dir()]
    if missing:
        raise ValueError(f"{run}: no recorded run for {', '.join(missing)} (record them first: --record)")
    results = {}
    for name, env in arrangements(checks).items():
        print(f"replaying with checks: {name} ...", file=sys.stderr, flush=True)
        row = {}
        for folder, args in sets.items():
            out = run / "ablation" / name.replace(" ", "-") / folder
            row |= scores(folder, rag_eval([*args, "--replay", str(run / folder), "--out", str(out)], env))
        results[name] = row
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.ablation", description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="folder of recorded runs, one per set")
    p.add_argument("--record", action="store_true", help="ask the sets for real into RUN, then stop")
    p.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS), help="the sets (default: all)")
    args = p.parse_args(argv)
    sets = {name: SETS[name] for name in args.sets}
    try:
        if args.record:
            record(args.run, sets)
            print(f"recorded in {args.run}: replay them with python -m eval.ablation {args.run}", file=sys.stderr)
            return 0
        results = replay(args.run, sets)
    except (ValueError, RuntimeError) as exc:
        print(f"ablation: {exc}", file=sys.stderr)
        return 1
    text = table(results)
    (args.run / "ablation.md").write_text(text + "\n", encoding="utf-8")
    (args.run / "ablation.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
