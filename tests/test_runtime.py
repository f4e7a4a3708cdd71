"""The compiled llama.cpp runs the bundled model on this machine, or `rag setup` says why not."""

import pytest

from rag import generate
from rag.generate import GeneratorError, check_runtime
from rag.model_files import ensure_model


def test_the_bundled_model_generates_on_this_machine(settings):
    check_runtime(ensure_model(settings.model_dir))  # a build using AMX where it may not: SIGILL


def test_an_illegal_instruction_is_one_error_that_names_the_rebuild(monkeypatch, tmp_path):
    monkeypatch.setattr(generate, "_RUNTIME_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGILL)")
    with pytest.raises(GeneratorError, match="illegal instruction") as caught:
        check_runtime(tmp_path / "model.gguf")
    assert "-mno-amx-tile" in str(caught.value) and "--no-cache-dir llama-cpp-python==0.3.36" in str(caught.value)


def test_any_other_failure_names_its_last_line(monkeypatch, tmp_path):
    monkeypatch.setattr(generate, "_RUNTIME_PROBE", "raise SystemExit('failed to load model')")
    with pytest.raises(GeneratorError, match="could not generate with model.gguf: failed to load model"):
        check_runtime(tmp_path / "model.gguf")


def test_a_probe_that_hangs_is_stopped_and_named(monkeypatch, tmp_path):
    monkeypatch.setattr(generate, "_RUNTIME_PROBE", "import time; time.sleep(60)")
    with pytest.raises(GeneratorError, match="did not read a 90-token prompt in 1 s"):
        check_runtime(tmp_path / "model.gguf", timeout=1)
