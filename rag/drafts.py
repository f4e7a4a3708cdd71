"""Writing faster by drafting from the prompt (prompt-lookup decoding), with logits only for drafts.

An answer here copies its passages: names, dates, titles, whole clauses. After each token the
tokens that followed the latest earlier occurrence of the last two or three tokens are a good
guess at what comes next. llama.cpp reads the last token and up to `k` such drafts in one batch,
which on a CPU costs little more than reading one token (writing is bound by reading the weights
from memory, and one pass serves the whole batch), and the model's choice at each position is
taken while it is the draft. llama-cpp-python's own `LlamaPromptLookupDecoding` needs logits for
every token of the prompt (`logits_all`), which costs more than the drafts save (docs/decisions.md);
here only the draft batches ask for them.

The answer is sampled token by token by the same sampler, so the text is the model's; but a token
read inside a batch gets slightly different numbers from one read alone (rag.kvcache.GRID), so an
answer can differ from the one written without drafts, as it would on another CPU. The batches
depend only on the prompt and the answer so far, so an answer still depends on its prompt alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence


def lookup(tokens: Sequence[int], k: int, longest: int = 3, shortest: int = 2) -> list[int]:
    """Up to `k` tokens that followed the latest earlier occurrence of the last `longest` tokens
    (or fewer, down to `shortest`: a single shared token drafts too often wrongly to pay)."""
    if k <= 0:
        return []
    tokens = list(tokens)
    for n in range(longest, shortest - 1, -1):
        if len(tokens) <= n:
            continue
        tail = tokens[-n:]
        for i in range(len(tokens) - n - 1, -1, -1):
            if tokens[i : i + n] == tail:
                return tokens[i + n : i + n + k]
    return []


class PromptDrafts:
    """Wraps a llama-cpp-python `Llama` instance's `generate`: with `k` > 0, the prompt and the
    first token as before (rag.kvcache.AlignedReads reads the prompt), then each step reads the
    last token and up to `k` drafts (`lookup`) as one batch with logits for each, samples position
    by position while the model's token is the draft, and drops the rest of the batch from the
    model's state. Stopping criteria (the chat template's stop tokens) are asked before each
    token, as llama-cpp-python asks them. With `k` = 0, or a grammar or logits processor (which
    change the scores one token at a time), it leaves `generate` as it was.

    `batched` and `batched_s` count the tokens read in draft batches and their seconds since the
    generation began: llama.cpp counts a batch of more than one token as prompt reading, and
    `rag.generate` moves them to writing."""

    def __init__(self, llm, k: int = 0):
        self.llm, self.k = llm, k
        self._generate = llm.generate
        self.batched, self.batched_s = 0, 0.0
        llm.generate = self.generate

    def generate(self, tokens, *args, **kwargs):
        self.batched, self.batched_s = 0, 0.0
        scored = any(kwargs.get(name) is not None for name in ("grammar", "logits_processor"))
        if self.k <= 0 or scored:
            return self._generate(tokens, *args, **kwargs)
        return self._drafted(list(tokens), args, kwargs)

    def _keep(self, n: int) -> None:
        """The model's state cut back to its first `n` tokens."""
        self.llm.n_tokens = n
        self.llm._ctx.kv_cache_seq_rm(-1, n, -1)

    def _drafted(self, tokens: list[int], args, kwargs):
        import llama_cpp
        import numpy as np

        llm, k, stop = self.llm, self.k, kwargs.get("stopping_criteria")
        first = self._generate(tokens, *args, **kwargs)
        try:
            token = next(first)  # the prompt read, its sampler made, its first token sampled
        except StopIteration:
            return
        finally:
            first.close()
        written = [*tokens, token]
        yield token
        while True:
            room = llm.n_ctx() - llm.n_tokens - 1
            batch = [token, *lookup(written, min(k, room))]
            past = llm.n_tokens
            began = time.perf_counter()
            llm._ctx.kv_cache_seq_rm(-1, past, -1)
            llm._batch.set_batch(batch=batch, n_past=past, logits_all=True)
            llm._ctx.decode(llm._batch)
            if len(batch) > 1:
                self.batched += len(batch)
                self.batched_s += time.perf_counter() - began
            llm.input_ids[past : past + len(batch)] = batch
            llm.n_tokens = past + len(batch)
            for i in range(len(batch)):
                token = llm._sampler.sample(llm._ctx, i)
                if stop is not None:
                    scores = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, i), shape=(llm.n_vocab(),))
                    if stop(np.asarray(written, dtype=np.intc), scores):
                        self._keep(past + i + 1)
                        return
                written.append(token)
                taken = i + 1 < len(batch) and token == batch[i + 1]  # its logits already read
                if not taken:  # the drafts after it out of the state
                    self._keep(past + i + 1)
                try:
                    yield token
                except GeneratorExit:  # the reader stopped (its end of text, its length): keep no draft
                    self._keep(past + i + 1 + taken)
                    raise
                if not taken:
                    break
