"""Generation backends behind one small interface.

- `llamacpp`: the bundled GGUF through llama-cpp-python (chat template read from the file).
- `openai`: any OpenAI-compatible server (Ollama, vLLM, llama.cpp server) by base URL.
- `extractive`: no LLM; answers with the passage sentence(s) that best match the question.

Each yields text pieces as they are produced; the engine verifies the whole afterwards.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

from rag.drafts import PromptDrafts
from rag.kvcache import AlignedReads, PrefixCache
from rag.prompt import answer_messages, prefix_messages
from rag.settings import Settings
from rag.text import REFUSAL, content_words, names, normalise, split_sentences
from rag.types import Hit, Usage


class GeneratorError(RuntimeError):
    """The backend cannot generate; the message names the fix."""


class Generator(Protocol):
    name: str

    def stream(
        self, question: str, hits: Sequence[Hit], settings: Settings, part: str = "", usage: Usage | None = None
    ) -> Iterator[str]:
        """The answer to `question` (or to its `part` alone: rag.prompt.answer_messages) from `hits`;
        a backend that can count its tokens fills `usage` by the time the stream ends."""
        ...

    def chat(self, messages: list[dict], settings: Settings, usage: Usage | None = None) -> Iterator[str]: ...


def make_generator(settings: Settings) -> Generator:
    if settings.backend == "llamacpp":
        return LlamaCppGenerator(settings)
    if settings.backend == "openai":
        return OpenAIGenerator(settings)
    return ExtractiveGenerator()


class _ChatGenerator:
    def stream(
        self, question: str, hits: Sequence[Hit], settings: Settings, part: str = "", usage: Usage | None = None
    ) -> Iterator[str]:
        return self.chat(answer_messages(question, hits, part), settings, usage)


class LlamaCppGenerator(_ChatGenerator):
    name = "llamacpp"

    def __init__(self, settings: Settings):
        self._settings = settings
        self._llm = None
        self._prefix: PrefixCache | None = None
        self._drafts: PromptDrafts | None = None
        self._loading = threading.Lock()

    @property
    def llm(self):
        """The loaded model (thread-safe: `Engine.warm` may load it while a question is asked)."""
        with self._loading:
            if self._llm is None:
                self._llm = self._load()
            return self._llm

    def _load(self):
        from rag.model_files import SHA256, ensure_model

        try:
            import llama_cpp
            from llama_cpp import Llama
        except ImportError as exc:
            raise GeneratorError(
                "llama-cpp-python is not installed: run `make run`, or "
                "`pip install llama-cpp-python==0.3.36`, or use --backend extractive."
            ) from exc
        path = ensure_model(self._settings.model_dir)
        _keep_output()
        llm = Llama(
            model_path=str(path),
            n_ctx=self._settings.n_ctx,
            n_threads=self._settings.n_threads,
            n_batch=512,
            verbose=False,
        )
        identity = {"model": SHA256, "runtime": llama_cpp.__version__, "n_ctx": self._settings.n_ctx}
        prefix = self._prefix = PrefixCache(prefix_messages(), path.parent, identity)
        AlignedReads(llm, lambda: len(prefix.tokens) if prefix.tokens else None)
        self._drafts = PromptDrafts(llm)
        return llm

    def stream(
        self, question: str, hits: Sequence[Hit], settings: Settings, part: str = "", usage: Usage | None = None
    ) -> Iterator[str]:
        """As any chat backend, with the prompt's fixed prefix restored first (rag.kvcache); llama.cpp
        then reuses the part of the previous prompt that this one shares, read so that the answer
        is the same as from the prefix alone (rag.kvcache.AlignedReads)."""
        self.ready()  # inside the generator, so under the engine's model lock
        yield from super().stream(question, hits, settings, part, usage)

    def ready(self) -> None:
        """Load the model and put the prompt's fixed prefix in its state."""
        llm = self.llm  # loading it makes the prefix cache
        self._prefix.ready(llm)

    def chat(self, messages: list[dict], settings: Settings, usage: Usage | None = None) -> Iterator[str]:
        """The reply streamed; llama.cpp's own counters, reset first, fill `usage` when it ends
        (or is stopped), while this generation still holds the model."""
        import llama_cpp

        llm = self.llm
        self._drafts.k = settings.draft_tokens
        llama_cpp.llama_perf_context_reset(llm.ctx)
        stream = llm.create_chat_completion(
            messages=messages,
            stream=True,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            seed=0,
        )
        try:
            for part in stream:
                piece = part["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
        finally:
            if usage is not None:
                perf = llama_cpp.llama_perf_context(llm.ctx)
                drafts = self._drafts  # llama.cpp counts a draft batch as prompt: it is writing
                usage.read, usage.read_s = perf.n_p_eval - drafts.batched, perf.t_p_eval_ms / 1000 - drafts.batched_s
                usage.decoded, usage.decode_s = perf.n_eval + drafts.batched, perf.t_eval_ms / 1000 + drafts.batched_s
                usage.stepped, usage.stepped_s = perf.n_eval, perf.t_eval_ms / 1000


class _Unchanged:
    """Stands in for llama-cpp-python's `suppress_stdout_stderr`, leaving the streams alone."""

    def __init__(self, disable: bool = True):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


@cache
def _keep_output():
    """With verbose=False, llama-cpp-python points the whole process's stdout and stderr (the
    file descriptors and `sys.stdout`/`sys.stderr`) at /dev/null while the model loads. The CLI
    and the page load it in a background thread, so whatever another thread printed meanwhile
    was lost: `rag ask` with a question too far from every article, refused before generation,
    printed nothing at all. Instead the streams are left alone and llama.cpp's own log goes to
    the `llama_cpp` logger (errors at ERROR, the rest at DEBUG), so loading still prints nothing.
    Returns the callback: cached, so it lives as long as llama.cpp holds its C pointer."""
    import ctypes
    import logging

    import llama_cpp
    from llama_cpp import _internals, llama, llama_chat_format

    for module in (llama, _internals, llama_chat_format):
        module.suppress_stdout_stderr = _Unchanged
    log = logging.getLogger("llama_cpp")

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data) -> None:
        # ggml's levels: 1 debug, 2 info, 3 warn, 4 error, 5 continued
        log.log(logging.ERROR if level == 4 else logging.DEBUG, "%s", text.decode("utf-8", "replace").rstrip())

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return callback


_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"  # as the Makefile's LLAMA_CFLAGS on x86_64


def rebuild_hint() -> str:
    """How to rebuild the installed llama-cpp-python without AMX (the Makefile does it at install)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pinned = f"llama-cpp-python=={version('llama-cpp-python')}"
    except PackageNotFoundError:
        pinned = "llama-cpp-python"
    return (
        "Rebuild it without AMX: rm -rf .venv && make install, or by hand: "
        f"CMAKE_ARGS=\"-DCMAKE_C_FLAGS='{_NO_AMX}' -DCMAKE_CXX_FLAGS='{_NO_AMX}'\" "
        f"pip install --force-reinstall --no-deps --no-cache-dir {pinned}"
    )


_RUNTIME_PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=1, n_batch=512, verbose=False)
llm.create_completion("The quick brown fox jumps over the lazy dog. " * 8, max_tokens=2)
"""


def check_runtime(model_path: Path, timeout: float = 300) -> None:
    """Read a 90-token prompt and write two tokens with the bundled model, in a child process.

    llama.cpp is compiled on the user's machine for its CPU. A CPU can report instructions its
    kernel or hypervisor does not let a process run (AMX, seen here: SIGILL in the first batched
    prompt), and then every answer kills the process that asks it, UI and tests included, with no
    message. Here that is one clear error at set-up instead."""
    import signal
    import subprocess
    import sys

    try:
        result = subprocess.run(
            [sys.executable, "-c", _RUNTIME_PROBE, str(model_path)], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise GeneratorError(f"llama.cpp did not read a 90-token prompt in {timeout:g} s with {model_path.name}") from exc
    if result.returncode == -signal.SIGILL:
        raise GeneratorError(
            "llama.cpp stopped on an illegal instruction: it was compiled for instructions this machine "
            f"does not run. {rebuild_hint()}"
        )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        raise GeneratorError(f"llama.cpp could not generate with {model_path.name}: {tail[0][:500]}")


class OpenAIGenerator(_ChatGenerator):
    name = "openai"

    def __init__(self, settings: Settings):
        self._settings = settings

    def chat(self, messages: list[dict], settings: Settings, usage: Usage | None = None) -> Iterator[str]:
        """Stream from `{base_url}/chat/completions` (`usage` stays empty: the server's own counts
        are not asked for). The API key goes to that URL and nowhere
        else: it is never logged, and never shown even if the server echoes it back."""
        import httpx

        url = settings.openai_base_url.rstrip("/") + "/chat/completions"
        key = settings.openai_api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {
            "model": settings.openai_model,
            "messages": messages,
            "stream": True,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
        }
        server = f"The OpenAI-compatible server at {settings.openai_base_url}"
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=settings.request_timeout_s) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GeneratorError(_redact(
                        f"{server} answered {response.status_code}: {response.text[:300]}. "
                        "Check RAG_OPENAI_MODEL and RAG_OPENAI_API_KEY.", key,
                    ))
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        choices = json.loads(data).get("choices") or [{}]
                    except (ValueError, AttributeError) as exc:
                        raise GeneratorError(f"{server} sent a stream that is not JSON.") from exc
                    piece = (choices[0].get("delta") or {}).get("content")
                    if piece:
                        yield piece
        except httpx.TimeoutException as exc:
            raise GeneratorError(
                f"{server} did not answer within {settings.request_timeout_s:g} s "
                "(RAG_REQUEST_TIMEOUT_S)."
            ) from exc
        except httpx.TransportError as exc:
            raise GeneratorError(_redact(
                f"Cannot reach the OpenAI-compatible server at {settings.openai_base_url} ({exc}). "
                "Start it (e.g. `ollama serve`) or set RAG_OPENAI_BASE_URL, or use --backend llamacpp.", key,
            )) from exc


def _redact(message: str, secret: str) -> str:
    return message.replace(secret, "***") if secret else message


class ExtractiveGenerator:
    """Quotes the best-matching sentence; a second one when it comes close. No model at all."""

    name = "extractive"

    def __init__(self, most: int = 2):
        self.most = most

    def stream(
        self, question: str, hits: Sequence[Hit], settings: Settings, part: str = "", usage: Usage | None = None
    ) -> Iterator[str]:
        scored = []
        q_words, q_names = content_words(part or question), names(part or question)
        for i, hit in enumerate(hits, 1):
            text = hit.chunk.text
            for s, e in split_sentences(text):
                sentence = text[s:e]
                flat = normalise(sentence)
                score = len(q_words & content_words(sentence)) + 0.5 * sum(n in flat for n in q_names)
                scored.append((score, -i, sentence, i))
        scored.sort(reverse=True)
        if not scored or scored[0][0] < 2:
            yield REFUSAL
            return
        best = scored[0]
        picked = [best] + [s for s in scored[1 : self.most] if s[0] >= 0.8 * best[0] and s[2] != best[2]]
        yield " ".join(f"{sentence.rstrip('.')} [{i}]." for _, _, sentence, i in picked)

    def chat(self, messages: list[dict], settings: Settings, usage: Usage | None = None) -> Iterator[str]:
        raise GeneratorError("the extractive backend has no language model to chat with")
