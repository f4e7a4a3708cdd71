"""The prompt prefix's saved model state (rag.kvcache), with the real bundled LLM."""

import pytest

from rag.kvcache import PrefixCache
from rag.prompt import answer_messages, prefix_messages

pytestmark = pytest.mark.e2e

QUESTION = "How much aid money has Zhejiang given Qinghai since 2010?"


def _scores(llm):
    """The model's scores for the next token after its last read, copied."""
    import llama_cpp
    import numpy as np

    return np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),)).copy()


def _answer(llm, messages) -> str:
    out = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=40, seed=0)
    return out["choices"][0]["message"]["content"]


@pytest.fixture(scope="module")
def llm(engine):
    """The model of a new engine that has only been warmed, as `rag ask` and the page start."""
    from rag.engine import Engine

    new = Engine(engine.settings)
    new.warm().join()
    generator = new.generator(new.settings)
    assert generator.llm.n_tokens > 300, "warm left no prompt prefix in the model"
    return generator.llm


def test_a_restored_prefix_answers_as_one_read_afresh(engine, llm, tmp_path):
    messages = answer_messages(QUESTION, engine.passages(engine.retrieve(QUESTION))[: engine.settings.k])
    llm.reset()
    fresh = _answer(llm, messages)
    assert "848 million" in fresh

    PrefixCache(prefix_messages(), tmp_path, {"test": 1}).ready(llm)  # reads the prefix, saves it
    assert len(list(tmp_path.glob("prefix-*.kv"))) == 1

    llm.reset()
    restored = PrefixCache(prefix_messages(), tmp_path, {"test": 1})
    restored.ready(llm)  # a new process: loads the file
    assert llm.n_tokens == len(restored.tokens) > 300
    assert _answer(llm, messages) == fresh


def test_a_damaged_file_is_read_again_not_loaded(llm, tmp_path):
    PrefixCache(prefix_messages(), tmp_path, {"test": 2}).ready(llm)
    (path,) = tmp_path.glob("prefix-*.kv")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    llm.reset()
    cache = PrefixCache(prefix_messages(), tmp_path, {"test": 2})
    assert not cache._load(llm)
    cache.ready(llm)  # rebuilt from the prompt
    assert llm.n_tokens == len(cache.tokens)
    assert PrefixCache(prefix_messages(), tmp_path, {"test": 2})._load(llm)


def test_other_settings_get_their_own_file(tmp_path):
    a = PrefixCache(prefix_messages(), tmp_path, {"n_ctx": 4096})
    b = PrefixCache(prefix_messages(), tmp_path, {"n_ctx": 2048})
    c = PrefixCache(prefix_messages()[:1], tmp_path, {"n_ctx": 4096})
    assert len({a.path, b.path, c.path}) == 3


def test_an_answer_is_written_alike_whatever_was_asked_before(engine):
    """Through the answer path (`Generator.stream`): one question over the same passages gets the
    same text from the prefix alone, right after itself and after another question, and right
    after itself reads no more than its last GRID tokens again."""
    from rag.kvcache import GRID
    from rag.types import Usage

    generator = engine.generator(engine.settings)
    hits = engine.passages(engine.retrieve(QUESTION))[: engine.settings.k]
    other = "Who led the Zhejiang delegation to Naqu?"
    other_hits = engine.passages(engine.retrieve(other))[: engine.settings.k]

    def ask(question, passages):
        usage = Usage()
        text = "".join(generator.stream(question, passages, engine.settings, usage=usage))
        return text, usage.read

    generator.llm.reset()  # the prefix is restored from its file
    first, read = ask(QUESTION, hits)
    assert read > 100 and "848 million" in first
    again, read_again = ask(QUESTION, hits)
    assert 0 < read_again <= GRID
    ask(other, other_hits)
    after_other, _ = ask(QUESTION, hits)
    assert again == after_other == first


def test_a_prompt_is_read_alike_whatever_was_asked_before(engine):
    """llama.cpp's numbers for a token move a little with how its batch is cut, and llama-cpp-python
    reuses what the previous prompt shares (rag.kvcache.AlignedReads). The model's scores for the
    next token of one prompt are the same to the bit from the prefix alone, after the same prompt,
    and after another question; after itself, it reads no more than its last GRID tokens again."""
    import llama_cpp
    import numpy as np

    from rag.kvcache import GRID

    generator = engine.generator(engine.settings)
    llm = generator.llm
    messages = answer_messages(QUESTION, engine.passages(engine.retrieve(QUESTION))[: engine.settings.k])
    other = "Who led the Zhejiang delegation to Naqu?"
    other_messages = answer_messages(other, engine.passages(engine.retrieve(other))[: engine.settings.k])

    def scores(tokens: int = 1) -> tuple[np.ndarray, int]:
        generator.ready()
        llama_cpp.llama_perf_context_reset(llm.ctx)
        llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=tokens, seed=0)
        read = llama_cpp.llama_perf_context(llm.ctx).n_p_eval
        return _scores(llm), read

    llm.reset()  # the prefix is restored from its file, the prompt read after it
    alone, read = scores()
    assert read > 100
    scores(tokens=3)  # the state now holds the prompt and two written tokens
    after_itself, read_again = scores()
    assert 0 < read_again <= GRID
    llm.create_chat_completion(messages=other_messages, temperature=0.0, max_tokens=3, seed=0)
    after_other, _ = scores()
    assert np.array_equal(alone, after_itself) and np.array_equal(alone, after_other)


def test_drafts_from_the_prompt_leave_only_what_was_written(engine):
    """rag.drafts with the real model (`RAG_DRAFT_TOKENS`): an answer that copies its passage is
    written with drafts taken, the model's state then holds the prompt and the answer and no
    draft it did not take, the counts put the drafts in writing, not in reading, and the next
    prompt is read as from the prefix alone."""
    import numpy as np

    from rag.types import Usage

    question = "On what date did Zhu Congjiu's delegation start investigating counterpart support work in Naqu?"
    drafted = engine.settings.replace(draft_tokens=3)
    generator = engine.generator(drafted)
    llm = generator.llm
    hits = engine.passages(engine.retrieve(question))[: engine.settings.k]
    other_hits = engine.passages(engine.retrieve(QUESTION))[: engine.settings.k]

    def next_scores(messages):
        llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=1, seed=0)
        return _scores(llm)

    from rag.kvcache import GRID

    generator.llm.reset()
    plain = Usage()
    "".join(generator.stream(question, hits, engine.settings.replace(draft_tokens=0), usage=plain))
    assert plain.stepped == plain.decoded > 0  # without drafts every token is decoded alone
    usage = Usage()
    text = "".join(generator.stream(question, hits, drafted, usage=usage))  # the same prompt again
    assert "March 30" in text
    assert generator._drafts.batched > 0, "no draft was read"
    assert 0 < usage.read <= GRID  # the prompt's last tokens only: the draft batches count as writing
    assert usage.decoded >= generator._drafts.batched
    assert usage.stepped == usage.decoded - generator._drafts.batched  # the raw decodes: no draft batch

    state = llm.input_ids[: llm.n_tokens].tolist()
    opening = llm.tokenize(b"<|im_start|>assistant\n", add_bos=False, special=True)
    start = max(i for i in range(len(state)) if state[i : i + len(opening)] == opening) + len(opening)
    held = llm.detokenize(state[start:], special=True).decode().removesuffix("<|im_end|>")
    assert text.startswith(held) and len(held) >= len(text) - 12  # the answer, less its last token at most

    after = next_scores(answer_messages(QUESTION, other_hits))
    generator.ready()  # the prefix alone
    assert np.array_equal(after, next_scores(answer_messages(QUESTION, other_hits)))
