"""The prompt's fixed prefix (instructions and worked examples), read by the LLM once per machine.

Every answer prompt starts with the same ~450 tokens, which take about 5 s on 2 cores to read.
llama.cpp reuses them within one process, but each new process (`rag ask`, the page after a
restart) and each answer after a different prompt (a follow-up's rewrite) read them again. Here
the model's state after the prefix is saved to a file beside the model and restored in
milliseconds.

After the prefix, llama-cpp-python also reuses whatever part of the previous prompt the next
one shares (the same first passage of a follow-up), which saves the starting articles' questions
0.9-2.1 s at p50. llama.cpp's numbers for a token depend a little on how the tokens around it
were batched, so that made an answer depend on the question asked before it, now and then
("Tampa Bay, Florida [1]" or a refusal for the same prompt). `AlignedReads` cuts every prompt's
batches at the same places whatever came before, keeping the reuse (docs/evaluation.md).

A restored state is only ever used for the tokens it was made from: llama-cpp-python compares
them with each new prompt and keeps the part they share, re-reading the rest. The file is
keyed by everything that shapes the state (model checksum, runtime version, context size, prefix
text) and carries its own SHA-256, so a damaged or foreign file is rebuilt, never loaded. A new
prompt or setting makes a new file (13-20 MB): the folder keeps the `KEEP` last used, so
upgrades do not pile them up.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

KEEP = 4
"""Saved prefixes kept in the model folder, the most recently used first: one per prompt and
context size in use (tests, a second `RAG_N_CTX`), and none from prompts long replaced."""


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Remove all but the `keep` most recently used saved prefixes (and their checksums) in
    `folder`; returns what was removed. Use is the file's mtime: a load touches it."""
    files = sorted(Path(folder).glob("prefix-*.kv"), key=lambda f: f.stat().st_mtime, reverse=True)
    gone = []
    for old in files[keep:]:
        for path in (old, old.with_suffix(".sha256")):
            path.unlink(missing_ok=True)
        gone.append(old)
    return gone


class PrefixCache:
    """Saves and restores the state of one llama-cpp `Llama` after a fixed list of chat messages."""

    def __init__(self, messages: list[dict], folder: Path, identity: dict):
        self.messages = messages
        key = hashlib.sha256(json.dumps({"messages": messages, **identity}, sort_keys=True).encode()).hexdigest()
        self.path = Path(folder) / f"prefix-{key[:20]}.kv"
        self.tokens: list[int] | None = None

    def ready(self, llm) -> None:
        """Make `llm` hold the prefix: nothing to do when it already does, else restore the
        saved state, else read the prefix once and save it."""
        if self.tokens and llm.longest_token_prefix(llm.input_ids[: llm.n_tokens], self.tokens) == len(self.tokens):
            return
        if not self._load(llm):
            self._build(llm)

    def _load(self, llm) -> bool:
        import llama_cpp

        digest = self.path.with_suffix(".sha256")
        try:
            data = self.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != digest.read_text().strip():
                raise ValueError("checksum")
        except (OSError, ValueError):
            return False
        capacity = llm.n_ctx()
        tokens = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        llm.reset()
        if not llama_cpp.llama_state_load_file(llm.ctx, str(self.path).encode(), tokens, capacity, ctypes.byref(count)):
            llm.reset()
            return False
        n = count.value
        with contextlib.suppress(OSError):
            os.utime(self.path)  # used: the last to be pruned
        llm.input_ids[:n] = tokens[:n]
        llm.n_tokens = n
        self.tokens = list(tokens[:n])
        return True

    def _build(self, llm) -> None:
        """Read the prefix with two different one-word questions after it; the tokens both share
        are the prefix as the chat template renders it, whatever the template."""
        import llama_cpp

        seen = []
        for word in ("1", "2"):
            llm.create_chat_completion(messages=[*self.messages, {"role": "user", "content": word}], max_tokens=1)
            seen.append(llm.input_ids[: llm.n_tokens].tolist())
        n = llm.longest_token_prefix(*seen)
        llm.n_tokens = n
        llm.eval([])  # drops the state past the prefix
        self.tokens = seen[0][:n]
        tmp = self.path.with_suffix(f".{os.getpid()}.partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            array = (llama_cpp.llama_token * n)(*self.tokens)
            if not llama_cpp.llama_state_save_file(llm.ctx, str(tmp).encode(), array, n):
                return  # the prefix stays in memory; only the file is missing
            digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
            os.replace(tmp, self.path)
            self.path.with_suffix(".sha256").write_text(digest)
            prune(self.path.parent)
        except OSError:
            pass  # a read-only model folder: the prefix is read again by the next process
        finally:
            tmp.unlink(missing_ok=True)


GRID = 16
"""Tokens past the prefix at which a prompt's batches are cut. Measured with the bundled model:
a 300-token prompt read in batches cut every 16, 32, 64, 128 or 512 tokens gives the same
logits to the bit as one batch; cut every 8, or with its last 1-15 tokens read apart (as
llama-cpp-python does when the previous prompt shared all but those), they differ."""


class AlignedReads:
    """Makes llama.cpp's reading of a prompt depend on the prompt alone, not on what came before.

    llama-cpp-python reuses the part of the previous prompt the next one shares and reads the
    rest as one batch, so where the batch began moved with the question asked before, and
    llama.cpp's numbers for a token move a little with how its batch is cut: the same prompt
    could be answered "Tampa Bay, Florida [1]" or refused. Here the first read of each generation
    keeps only the state before a `GRID` mark (one the previous prompt read past in full), reads
    on to the last mark before the prompt's last token, then the rest as a batch of its own. The
    cuts fall at the same places whatever was asked before, and the reuse of a shared start
    (a follow-up's first passage) stays, less at most 15 tokens.

    `start` gives where the marks are counted from (the prefix's length: rag.kvcache.PrefixCache),
    or None while there is no prefix yet; before it, reads are left as llama-cpp-python makes them.
    """

    def __init__(self, llm, start: Callable[[], int | None], grid: int = GRID):
        self.llm, self.start, self.grid = llm, start, grid
        self._eval, self._generate = llm.eval, llm.generate
        self._prompt = False  # the next read is a generation's prompt
        self._held = 0  # state up to here was read in batches cut at marks
        llm.eval, llm.generate = self.eval, self.generate

    def generate(self, tokens, *args, **kwargs):
        self._prompt = True
        return self._generate(tokens, *args, **kwargs)

    def eval(self, tokens) -> None:
        llm, base = self.llm, self.start()
        if not self._prompt or base is None or llm.n_tokens < base:
            self._eval(tokens)
            return
        self._prompt = False
        kept, end = min(llm.n_tokens, max(self._held, base)), llm.n_tokens + len(tokens)
        begin = base + (kept - base) // self.grid * self.grid
        last = base + (end - 1 - base) // self.grid * self.grid
        ids = [*llm.input_ids[begin : llm.n_tokens].tolist(), *tokens]
        llm.n_tokens = begin  # llama-cpp-python drops the cache past n_tokens on its next read
        if last > begin:
            self._eval(ids[: last - begin])
        self._eval(ids[last - begin :])
        self._held = last
