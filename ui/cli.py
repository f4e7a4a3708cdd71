"""`rag`, the command line: ingest, ask, status, chat, ui, eval, setup. A client of the engine,
like the chat page beside it. Errors are one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ingest.index import ingest_into
from rag.settings import BACKENDS, Settings
from rag.text import printable

# Exit codes (README, "Command line"): 0 done; 1 the store, the model, the backend or a file
# failed; 2 bad input or settings; 130 interrupted.
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return args.run(args, settings) or 0
    except KeyboardInterrupt:
        return _fail(args, "interrupted", "interrupted", EXIT_INTERRUPTED)
    except ValueError as exc:
        return _fail(args, str(exc), "bad_input", EXIT_USAGE)
    except RuntimeError as exc:  # StoreError, GeneratorError, ModelFileError, ModelMissing
        return _fail(args, str(exc), _code(exc), EXIT_FAILED)
    except OSError as exc:  # a missing or unreadable file named on the command line or in settings
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        return _fail(args, message, "file", EXIT_FAILED)


def _code(exc: Exception) -> str:
    """A stable error code for --json output, from the kind of failure."""
    return {
        "StoreError": "store",
        "GeneratorError": "backend",
        "ModelFileError": "model",
    }.get(type(exc).__name__, "failed")


def _fail(args, message: str, code: str, status: int) -> int:
    """One line on stderr; with --json also one JSON object on stdout, so a script always gets one."""
    if getattr(args, "json", False):
        print(json.dumps({"error": message, "code": code, "exit": status}))
    print(f"rag: {printable(message)}", file=sys.stderr)
    return status


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Answer questions about news articles, with citations.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", help="index articles (default: the data folder)")
    ing.add_argument("paths", nargs="*", type=Path, help="files or folders (default: data/)")
    ing.add_argument("--prune", action="store_true", help="remove indexed articles no longer on disk")
    ing.add_argument("--rebuild", action="store_true",
                     help="drop what is indexed from PATHS (everything when none are given) and index it again")
    ing.add_argument("--quiet", action="store_true", help="no progress bar")
    ing.set_defaults(run=cmd_ingest)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    _answer_options(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(run=cmd_ask)

    chat = sub.add_parser("chat", help="ask questions in the terminal (follow-ups understood)")
    _answer_options(chat)
    chat.set_defaults(run=cmd_chat)

    st = sub.add_parser("status", help="what is indexed, and where")
    st.add_argument("--json", action="store_true")
    st.set_defaults(run=cmd_status)

    setup = sub.add_parser(
        "setup",
        help="assemble and verify the bundled LLM, check that llama.cpp runs it on this CPU, "
        "export the embedder and the reader to ONNX",
    )
    setup.set_defaults(run=cmd_setup)

    ui = sub.add_parser("ui", help="open the chat page")
    ui.add_argument("--host", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, help="port (default 7860)")
    ui.add_argument("--no-ingest", action="store_true", help="do not index data/ first")
    ui.set_defaults(run=cmd_ui)

    cfg = sub.add_parser("config", help="print the settings in force (RAG_* variables and defaults)")
    cfg.add_argument("--markdown", action="store_true", help="print docs/configuration.md instead")
    cfg.add_argument("--json", action="store_true", help="print one JSON object")
    cfg.set_defaults(run=cmd_config)

    ev = sub.add_parser("eval", help="score answers, citations, refusals and speed on a question set")
    ev.add_argument(
        "--set", dest="question_set",
        help="questions JSONL (default eval/questions.jsonl), or a public set: squad-answerable, "
        "squad-unanswerable, papers, news-noise (each over its own corpus, indexed on first use)",
    )
    ev.add_argument("--split", choices=("dev", "test", "all"), default="dev", help="half of a public set (default dev)")
    ev.add_argument("--limit", type=int, help="only the first N questions of a public set")
    _answer_options(ev)
    ev.add_argument("--out", type=Path, default=Path("eval/out"), help="report folder")
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")
    ev.add_argument("--compare", type=Path, help="an earlier report.json to compare with")
    ev.add_argument("--gate", action="store_true", help="exit 1 when below the quality thresholds")
    ev.add_argument(
        "--replay", type=Path, metavar="RUN",
        help="an earlier run's --out folder: its recorded model drafts stand in for the model, so only "
        "retrieval and the checks run (eval/replay.py)",
    )
    ev.set_defaults(run=cmd_eval)
    return p


def _answer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=int, help="passages to retrieve")
    p.add_argument("--backend", choices=BACKENDS, help="generation backend")


def cmd_ingest(args, settings: Settings) -> int:
    from rag.engine import Engine

    engine = Engine(settings)
    report = ingest_into(engine, args.paths or None, prune=args.prune, rebuild=args.rebuild, progress=not args.quiet)
    for r in report.results:
        if r.status == "skipped":
            print(printable(f"skipped {r.path}: {r.reason}"), file=sys.stderr)
    print(report.summary())
    return 0


def cmd_ask(args, settings: Settings) -> int:
    from rag.engine import Engine

    engine = Engine(settings.replace(k=args.k, backend=args.backend))
    engine.require_articles()
    engine.warm()
    if args.json:
        print(json.dumps(engine.answer(args.question).to_json(), ensure_ascii=False))
        return 0
    for item in engine.stream(args.question):
        if isinstance(item, str):
            continue
        _print_answer(item)
    return 0


def cmd_chat(args, settings: Settings) -> int:
    from rag.engine import Engine

    engine = Engine(settings.replace(k=args.k, backend=args.backend))
    engine.require_articles()
    engine.warm()  # while the first question is typed
    history: list[tuple[str, str]] = []
    print("Ask about the articles (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        try:
            result = engine.answer(question, history)
        except ValueError as exc:
            print(f"rag: {printable(str(exc))}")
            continue
        if result.searched != question:
            print(printable(f"(searched: {result.searched})"))
        _print_answer(result)
        history.append((question, result.text))


def cmd_status(args, settings: Settings) -> int:
    from rag.engine import Engine

    return _print_mapping(args, Engine(settings).status(), lambda key, value: f"{key.replace('_', ' ')}: {value}")


def _print_mapping(args, values: dict, line) -> int:
    """One JSON object with --json, else one printable line per key."""
    if args.json:
        print(json.dumps(values))
    else:
        for key, value in values.items():
            print(printable(line(key, value)))
    return 0


def cmd_config(args, settings: Settings) -> int:
    from dataclasses import asdict

    from rag.settings import markdown

    if args.markdown:
        print(markdown(), end="")
        return 0
    values = {k: ("(set)" if k == "openai_api_key" and v else str(v)) for k, v in asdict(settings).items()}
    return _print_mapping(args, values, lambda key, value: f"RAG_{key.upper()}={value}")


def cmd_setup(args, settings: Settings) -> int:
    from rag.embed import onnx_model
    from rag.generate import check_runtime
    from rag.model_files import ensure_model
    from rag.reader import reader_onnx

    model = ensure_model(settings.model_dir)
    print(f"model: {model} (SHA-256 verified)")
    check_runtime(model)
    print("llama.cpp: reads a prompt and generates on this machine")
    print(f"embedder: {onnx_model(folder=settings.model_dir)}")
    print(f"reader: {reader_onnx(folder=settings.model_dir)}")
    return 0


def cmd_ui(args, settings: Settings) -> int:
    from ui.app import launch

    return launch(settings.replace(ui_host=args.host, ui_port=args.port), ingest=not args.no_ingest)


def cmd_eval(args, settings: Settings) -> int:
    if args.replay:
        from eval.replay import replaying

        with replaying(args.replay):
            return _eval(args, settings)
    return _eval(args, settings)


def _eval(args, settings: Settings) -> int:
    from eval.public import PUBLIC_SETS
    from eval.public import main as public_main
    from eval.run import main as eval_main

    if args.question_set in PUBLIC_SETS:
        return public_main(args)
    args.question_set = Path(args.question_set) if args.question_set else None
    return eval_main(args, settings)


def _print_answer(result) -> None:
    """The answer, its citations and quotes: article and model text, so through `printable`."""
    note = result.why_refused or result.not_answered
    lines = [result.text] + ([f"  ({note})"] if note else [])
    for c in result.citations:
        where = ", ".join(x for x in (c.title, c.date, c.section) if x)
        lines.append(f"  [{c.n}] {where} — {Path(c.source).name} chars {c.start}-{c.end}\n      \"{c.quote}\"")
    if result.refused and result.hits:
        lines.append("  Closest passages:")
        lines += [f"    - {h.chunk.title}: {h.chunk.text[:120].strip()}…" for h in result.hits[:3]]
    print(printable("\n".join(lines)))


if __name__ == "__main__":
    raise SystemExit(main())
