"""The `rag` command as a user runs it: real process, real store."""

import json
import os
import subprocess
import sys

import pytest


def rag(*args, env_extra=None, settings=None):
    env = {**os.environ, "RAG_STORE_DIR": str(settings.store_dir), "RAG_DATA_DIR": str(settings.data_dir)}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def ingested(engine, settings):
    return settings


def test_empty_and_huge_questions_exit_2(ingested):
    for question in ("", "x" * 2001):
        result = rag("ask", question, settings=ingested)
        assert result.returncode == 2
        assert result.stderr.startswith("rag: The question is") and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_ask_json_is_one_object(ingested):
    result = rag("ask", "Who led the delegation to Naqu?", "--backend", "extractive", "--json", settings=ingested)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bars or warnings from the libraries on an answer
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "refused", "refused_by", "why_refused", "unanswered", "citations", "hits", "timings"}
    assert "Zhu Congjiu" in data["answer"] and data["citations"][0]["n"] == 1
    quote = data["citations"][0]
    with open(quote["source"], encoding="utf-8") as f:
        assert f.read()[quote["start"] : quote["end"]] == quote["quote"]


def test_status_and_ingest_summary(ingested):
    status = json.loads(rag("status", "--json", settings=ingested).stdout)
    assert status["articles"] == 2 and status["chunks"] > 10
    result = rag("ingest", "--quiet", settings=ingested)
    assert result.returncode == 0 and "2 unchanged" in result.stdout


def test_unreachable_openai_server_is_a_clear_error(ingested):
    result = rag(
        "ask", "Who led the delegation to Naqu?", "--backend", "openai",
        env_extra={"RAG_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, settings=ingested,
    )
    assert result.returncode == 1 and "Cannot reach the OpenAI-compatible server" in result.stderr


def test_a_missing_question_file_is_one_line_not_a_traceback(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "eval", "--set", str(tmp_path / "nope.jsonl")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "nope.jsonl" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_json_failures_are_one_json_object_with_a_code(ingested):
    empty = rag("ask", "  ", "--json", settings=ingested)
    assert empty.returncode == 2 and json.loads(empty.stdout) == {
        "error": "The question is empty: ask something about the articles.", "code": "bad_input", "exit": 2,
    }
    down = rag(
        "ask", "Who led the delegation to Naqu?", "--json", "--backend", "openai",
        env_extra={"RAG_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, settings=ingested,
    )
    assert down.returncode == 1 and json.loads(down.stdout)["code"] == "backend"
    store = rag("status", "--json", env_extra={"RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": "9"}, settings=ingested)
    assert store.returncode == 1 and json.loads(store.stdout)["code"] == "store"
    assert "Traceback" not in down.stderr + store.stderr


def test_article_text_reaches_the_terminal_without_control_characters(ingested, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "bell.txt").write_text(
        "Lighthouse \x1b]0;pwned\x07news\n\nThe lighthouse keeper \x1b[2J\x1b[31mrang the bell\r at dawn on Monday.\n",
        encoding="utf-8",
    )
    env = {"RAG_STORE_DIR": str(tmp_path / "store"), "RAG_DATA_DIR": str(data)}
    assert rag("ingest", "--quiet", env_extra=env, settings=ingested).returncode == 0
    result = rag("ask", "When did the lighthouse keeper ring the bell?", "--backend", "extractive",
                 env_extra=env, settings=ingested)
    assert result.returncode == 0 and "rang the bell" in result.stdout
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b[31m" in result.stdout  # shown as an escape, not acted on


def test_an_answer_given_while_the_model_loads_is_printed(ingested):
    """`rag ask` loads the LLM in a background thread. llama-cpp-python used to point the process's
    stdout at /dev/null while loading, so an answer refused before generation printed nothing."""
    result = rag("ask", "Xylophone quartz zebra?", settings=ingested)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "The articles don't say." and result.stderr == ""
    assert result.stdout.splitlines()[1].strip() == "(No passage is close enough to the question to ask the model.)"


def test_an_empty_store_is_a_clear_error(tmp_path):
    from types import SimpleNamespace

    empty = SimpleNamespace(store_dir=tmp_path / "store", data_dir=tmp_path / "data")
    for args in (["ask", "Who won?"], ["eval"]):
        result = rag(*args, "--json", settings=empty)
        assert result.returncode == 1 and "Nothing is indexed" in result.stderr and "rag ingest" in result.stderr
        assert json.loads(result.stdout)["code"] == "store"
