"""Settings, fusion, question checks, JSON shape, history handling: pure logic."""

import json
from pathlib import Path

import pytest

from rag.engine import _pairs, check_question
from rag.retrieve import fuse
from rag.settings import Settings
from rag.types import Answer, Chunk, Citation, Hit


def chunk(cid: str) -> Chunk:
    return Chunk(cid, "d", 0, "T", None, "s", cid, 0, 1)


def test_settings_from_env_types_and_errors():
    s = Settings.from_env({"RAG_K": "7", "RAG_CHROMA_HOST": "127.0.0.1", "RAG_TEMPERATURE": "0.5"})
    assert (s.k, s.chroma_host, s.temperature) == (7, "127.0.0.1", 0.5)
    with pytest.raises(ValueError, match="RAG_K"):
        Settings.from_env({"RAG_K": "many"})
    with pytest.raises(ValueError, match="backend"):
        Settings().replace(backend="gpt")
    with pytest.raises(TypeError, match="unknown"):
        Settings().replace(colour="red")
    s = Settings().replace(store_dir="elsewhere/chroma", k="4", read="1")  # strings read as from the environment
    assert (s.store_dir, s.k, s.read) == (Path("elsewhere/chroma"), 4, True)


def test_rrf_fusion_rewards_agreement():
    a, b, c = chunk("a"), chunk("b"), chunk("c")
    hits = fuse([(a, 0.9), (b, 0.8)], [(b, 12.0), (c, 3.0)], k=3, rrf_k=60)
    assert [h.chunk.id for h in hits] == ["b", "a", "c"]
    assert hits[0].dense_rank == 2 and hits[0].bm25_rank == 1 and hits[0].dense_score == 0.8
    assert hits[2].dense_score is None
    assert len(fuse([(a, 0.9)], [(b, 1.0)], k=1)) == 1


def test_question_limits():
    with pytest.raises(ValueError, match="empty"):
        check_question("   ", 2000)
    with pytest.raises(ValueError, match="2001 characters"):
        check_question("x" * 2001, 2000)
    assert check_question("  hi  ", 2000) == "hi"


def test_history_formats():
    msgs = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]
    assert _pairs(msgs) == [("q1", "a1")]
    assert _pairs([("q", "a")]) == [("q", "a")]
    assert _pairs(None) == []


def test_answer_json_shape_is_stable():
    c = Citation(1, "d", "T", "2020-01-01", "/x.txt", "cid", "quote", 3, 8)
    a = Answer("q?", "text [1].", (c,), False, (Hit(chunk("a"), 0.1, 0.5),), {"retrieve_s": 0.1, "total_s": 1.0})
    data = json.loads(json.dumps(a.to_json()))
    assert list(data) == ["question", "answer", "refused", "refused_by", "why_refused", "unanswered", "citations", "hits", "timings"]
    assert data["refused_by"] == data["why_refused"] == "" and data["unanswered"] == []  # a whole answer
    refused = Answer("q?", "The articles don't say.", refused=True, refused_by="constraints", unstated=("2019",))
    assert refused.to_json()["why_refused"] == refused.why_refused and "2019" in refused.why_refused
    assert list(data["citations"][0]) == ["n", "doc_id", "title", "date", "source", "quote", "start", "end", "section"]
    assert list(data["hits"][0]) == ["doc_id", "title", "score", "text"]
    assert data["timings"] == {"retrieve_s": 0.1, "generate_s": 0.0, "total_s": 1.0}


def test_compound_questions_split_into_parts_that_stand_alone():
    from rag.text import split_question

    assert split_question("Who led X to Y, and who led Z to W?") == ["Who led X to Y?", "Who led Z to W?"]
    assert split_question("Who met Ann and Bob?") == ["Who met Ann and Bob?"]
    assert split_question("What and why?") == ["What and why?"]
    assert split_question("The gorge is between Koblenz and what other city?") == [
        "The gorge is between Koblenz and what other city?"
    ]
    assert split_question("Name the mayor of X, and who led Y?") == ["Name the mayor of X?", "Who led Y?"]


def test_a_compound_question_lists_its_parts_in_the_prompt():
    from rag.prompt import answer_messages, prefix_messages

    hits = [Hit(chunk("a"), 0.1, 0.5)]
    compound = answer_messages("What funds has X given, and how many projects?", hits)
    assert compound[:-1] == prefix_messages()  # the cached prefix is unchanged
    assert compound[-1]["content"].endswith(
        "Question: What funds has X given, and how many projects?\n"
        "Answer each part: What funds has X given? How many projects?"
    )
    assert answer_messages("What funds has X given?", hits)[-1]["content"].endswith("Question: What funds has X given?")
    part = answer_messages("What did X give, and how was it used?", hits, part="How was it used?")
    assert part[:-1] == prefix_messages() and part[-1]["content"].endswith(  # "it" keeps its subject
        "Question: What did X give, and how was it used?\nAnswer only this part: How was it used?")


def test_the_parts_a_compound_answer_leaves_out_are_the_ones_asked_again():
    from rag.steps import adds, unanswered
    from rag.verify import Verified

    q = "Who led the delegation to Naqu, and who led the delegation from Qinghai to Zhejiang?"
    parts = ["Who led the delegation to Naqu?", "Who led the delegation from Qinghai to Zhejiang?"]
    one = Verified("Zhu Congjiu led the delegation to Naqu [1].", (), False)
    both = Verified("Zhu Congjiu led the delegation to Naqu [1]. Wang Guosheng led the delegation from Qinghai [2].", (), False)
    assert unanswered(q, one) == parts[1:]
    assert unanswered(q, both) == []
    assert unanswered(q, Verified("The articles don't say.", (), True)) == parts
    assert unanswered("Who led the delegation to Naqu?", Verified("The articles don't say.", (), True)) == []
    # the part's answer must say something the answer does not: a restatement is no answer
    assert adds("Wang Guosheng led the delegation from Qinghai [1].", one.text)
    assert not adds("The delegation to Naqu was led by Zhu Congjiu [1].", one.text)


def test_misspelled_names_are_corrected_from_the_articles_vocabulary(tmp_path):
    from rag.retrieve import Bm25Index
    from rag.types import Chunk

    text = "Governor Lena Ortiz visited Qinghai and Naqu with the delegation."
    chunks = [Chunk("c1", "d", 0, "Visit to Naqu", None, "/a", text, 0, len(text))]
    built = Bm25Index.open(lambda: chunks, "g", tmp_path)
    loaded = Bm25Index.open(lambda: [], "g", tmp_path)  # the saved index, vocabulary and all
    assert loaded.chunks == built.chunks
    for index in (built, loaded):
        assert index.correct("Who visited Nakqu and Quinghai?") == "Who visited Naqu and Qinghai?"
        assert index.correct("How many tourists visited Naqu?") == "How many tourists visited Naqu?"
        assert index.correct("Did Ortis visit?") == "Did Ortiz visit?"
        assert index.correct("Did Zxqwv visit?") == "Did Zxqwv visit?"


def test_spelling_correction_leaves_real_words_and_restores_accents(tmp_path):
    """A correction that turns a word the user meant into another ("Relegation" -> "Relation")
    makes a constraint the user never asked for: only misspellings and other forms of the
    articles' own words move."""
    from rag.retrieve import Bm25Index
    from rag.types import Chunk

    text = "Hervé Renard coached the Panthers; the relation with Gospić and the ferry company improved. Temujin or Temüjin."
    chunks = [Chunk("c1", "d", 0, "Sport news", None, "/a", text, 0, len(text))]
    index = Bm25Index.open(lambda: chunks, "g", tmp_path)
    common = frozenset({"relegation", "panther"})
    assert index.correct("Who coached Herve Renard?", common) == "Who coached Hervé Renard?"  # the articles' accents
    assert index.correct("Where is Gospic?", common) == "Where is Gospić?"  # not cut to "Gospi"
    assert index.correct("Who was Temüjin?", common) == "Who was Temüjin?"  # as the articles write it too
    assert index.correct("Which Panther scored?", common) == "Which Panthers scored?"  # the articles' form of it
    assert index.correct("Who faced Relegation?", common) == "Who faced Relegation?"  # a word of the language
    assert index.correct("Who faced Relegation?") == "Who faced Relation?"  # what happens without the list
    assert index.correct("Who ran the Fery company?", common) == "Who ran the Ferry company?"


def test_a_keyword_index_saved_with_the_old_vocabulary_is_built_again(tmp_path):
    import json

    from rag.retrieve import Bm25Index
    from rag.types import Chunk

    text = "Hervé Renard coached the team."
    chunks = [Chunk("c1", "d", 0, "Sport", None, "/a", text, 0, len(text))]
    Bm25Index.open(lambda: chunks, "g", tmp_path)
    (segment,) = (tmp_path / "segments").iterdir()
    (segment / "words.json").write_text(json.dumps(["coached", "herv", "renard", "team"]))  # format 1
    reads = []
    index = Bm25Index.open(lambda: reads.append(1) or chunks, "g", tmp_path)
    assert reads and index.correct("Who is Herve?") == "Who is Hervé?"


def test_generation_runs_under_the_lock_in_a_worker_and_stops_when_the_reader_leaves():
    import threading
    import time

    from rag.engine import Engine

    engine = Engine.__new__(Engine)
    engine._lock = threading.Lock()
    produced = []

    def pieces():
        for i in range(1000):
            produced.append(i)
            time.sleep(0.002)
            yield str(i)

    reader = engine.exclusive(pieces())
    assert next(reader) == "0"
    reader.close()  # the reader leaves after one piece
    for _ in range(500):
        if engine._lock.acquire(blocking=False):
            break
        time.sleep(0.01)
    else:
        raise AssertionError("the lock was not released")
    engine._lock.release()
    assert len(produced) < 1000  # the worker stopped early instead of generating everything

    def failing():
        yield "a"
        raise RuntimeError("backend down")

    with pytest.raises(RuntimeError, match="backend down"):
        list(engine.exclusive(failing()))
    assert not engine._lock.locked()


def test_bm25_is_built_once_per_generation_and_loaded_after(tmp_path):
    from rag.retrieve import Bm25Index
    from rag.types import Chunk

    texts = ["The ferry carried 900 people.", "The tide reached 4 metres.", "A new bridge opened in May."]
    chunks = [Chunk(f"c{i}", f"d{i}", 0, f"T{i}", None, f"/x{i}.txt", t, 0, len(t)) for i, t in enumerate(texts)]
    reads = []

    def read():
        reads.append(1)
        return chunks

    built = Bm25Index.open(read, "gen1", tmp_path)
    loaded = Bm25Index.open(read, "gen1", tmp_path)
    assert len(reads) == 1  # the second process loads what the first saved
    assert [c.id for c, _ in loaded.search("bridge opened", 2)] == [c.id for c, _ in built.search("bridge opened", 2)] == ["c2"]
    assert loaded.neighbour("d1", 0) == chunks[1] and loaded.correct("Ferri") == "Ferry"
    Bm25Index.open(read, "gen2", tmp_path)  # a new generation replaces the old one on disk
    assert len(reads) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["gen2.json", "segments"]
    (segment,) = (tmp_path / "segments").iterdir()
    (segment / "chunks.json").write_text("{broken")
    assert Bm25Index.open(read, "gen2", tmp_path).search("tide", 1)[0][0].id == "c1" and len(reads) == 3
    Bm25Index.open(read, "gen2", tmp_path)  # the damaged copy was replaced
    assert len(reads) == 3 and len(list((tmp_path / "segments").iterdir())) == 1


def _ranked(index, query):
    return [(c.id, round(s, 4)) for c, s in index.search(query, 100)]


def test_bm25_extended_with_a_change_ranks_as_one_built_from_scratch(tmp_path):
    """An update is a new segment plus dead older copies: scores must equal a fresh build's
    (same df, N and average length), through every merge, and the index must not be read."""
    import random

    from rag import bm25
    from rag.retrieve import Bm25Index
    from rag.types import Chunk

    rng = random.Random(3)
    words = "ferry tide bridge harbour storm council budget school river market festival road".split()

    def article(doc, n, salt=""):
        texts = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + salt for _ in range(n)]
        return [Chunk(f"{doc}-{i}{salt}", doc, i, f"Title {doc}", None, f"/{doc}.txt", t, 0, len(t)) for i, t in enumerate(texts)]

    store = {f"d{i}": article(f"d{i}", 3) for i in range(6)}
    everything = lambda: [c for chunks in store.values() for c in chunks]  # noqa: E731
    Bm25Index.open(everything, "g0", tmp_path)
    before = "g0"
    for step in range(12):  # updates, additions and deletions; merges after MAX_SEGMENTS
        doc = f"d{rng.randint(0, 8)}"
        if step % 4 == 3 and doc in store:
            del store[doc]
            added = []
        else:
            store[doc] = added = article(doc, rng.randint(1, 4), salt=f" v{step}")
        after = f"g{step + 1}"
        assert Bm25Index.extend(tmp_path, before, after, {doc}, added)
        incremental = Bm25Index.open(lambda: pytest.fail("read the store"), after, tmp_path)
        fresh = Bm25Index([bm25.Segment.build(everything())], "x")
        assert incremental.chunks == fresh.chunks
        for query in ("ferry tide", "storm council budget", "festival", "v5 river"):
            assert _ranked(incremental, query) == _ranked(fresh, query)
        assert len(list((tmp_path / "segments").iterdir())) <= bm25.MAX_SEGMENTS
        assert [p.name for p in tmp_path.glob("*.json")] == [f"{after}.json"]
        for doc, position in incremental.dead.items():  # only articles with older copies are marked
            assert any(c.doc_id == doc for seg in incremental.segments[:position] for c in seg.chunks)
        before = after
    assert not Bm25Index.extend(tmp_path, "unknown", "g99", {"d1"}, [])  # the caller builds instead


def test_building_the_keyword_index_logs_nothing_of_the_library(caplog, tmp_path):
    import logging

    from rag.retrieve import Bm25Index
    from rag.types import Chunk

    caplog.set_level(logging.DEBUG)  # as a script that configures logging would
    text = "The Zanzibar ferry carried 900 people."
    Bm25Index.open(lambda: [Chunk("c1", "d", 0, "Ferry", None, "/a", text, 0, len(text))], "g", tmp_path)
    assert not [r for r in caplog.records if r.name.startswith("bm25s")]


def test_the_configuration_page_is_generated_from_the_settings():
    from rag.settings import GROUPS, markdown

    page = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == markdown(), "run `rag config --markdown > docs/configuration.md`"
    from dataclasses import fields

    assert all(f.metadata.get("group") in GROUPS and f.metadata.get("help") for f in fields(Settings))


def test_threads_follow_the_cores_this_process_may_use(tmp_path):
    from rag.settings import cores

    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")  # one core's worth, whatever the host has
    assert cores(quota) == 1
    quota.write_text("max 100000\n")
    assert cores(quota) == cores(tmp_path / "absent") >= 1


def test_an_engine_may_use_another_engines_models_for_its_own_store(tmp_path):
    from rag.engine import Engine

    first = Engine(Settings(data_dir=tmp_path / "a", store_dir=tmp_path / "a-store"))
    second = Engine(Settings(data_dir=tmp_path / "b", store_dir=tmp_path / "b-store"), models=first)
    assert second.settings.store_dir == tmp_path / "b-store" and second._store is None
    assert second.embedder is first.embedder and second.reader is first.reader
    assert second._generators is first._generators
    assert second._lock is first._lock  # one generation at a time across both stores


def test_only_the_last_used_saved_prompt_prefixes_are_kept(tmp_path):
    """A new prompt or setting saves a new prefix file; older ones go once more than KEEP are
    there, the least recently used (loaded or saved) first, each with its checksum."""
    import os

    from rag.kvcache import KEEP, prune

    for i in range(KEEP + 2):
        (tmp_path / f"prefix-{i}.kv").write_bytes(b"state")
        (tmp_path / f"prefix-{i}.sha256").write_text("sum")
        os.utime(tmp_path / f"prefix-{i}.kv", (1000 + i, 1000 + i))
    os.utime(tmp_path / "prefix-0.kv", (5000, 5000))  # the oldest, but loaded last
    (tmp_path / "model.gguf").write_bytes(b"weights")
    assert sorted(p.name for p in prune(tmp_path)) == ["prefix-1.kv", "prefix-2.kv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model.gguf"] + [f"prefix-{i}.{ext}" for i in (0, 3, 4, 5) for ext in ("kv", "sha256")]
    )
    assert prune(tmp_path) == []


class _Reuses:
    """llama-cpp-python's reuse of a shared prompt start, in small: `generate` keeps the state the
    new prompt shares (all but one token when it shares all) and reads the rest; `eval` records
    each batch as (first position, length)."""

    def __init__(self, prefix: int):
        import numpy as np

        self.input_ids, self.n_tokens, self.batches = np.zeros(4096, dtype=int), prefix, []
        self.input_ids[:prefix] = range(prefix)

    def eval(self, tokens):
        self.batches.append((self.n_tokens, len(tokens)))
        self.input_ids[self.n_tokens : self.n_tokens + len(tokens)] = tokens
        self.n_tokens += len(tokens)

    def generate(self, tokens):
        shared = 0
        while shared < min(self.n_tokens, len(tokens) - 1) and self.input_ids[shared] == tokens[shared]:
            shared += 1
        self.n_tokens = shared
        self.eval(tokens[shared:])
        self.eval([7])  # one token written: read alone, as decoding does


def test_a_prompt_is_cut_into_batches_at_the_same_places_whatever_came_before():
    """rag.kvcache.AlignedReads: the batches a prompt is read in past the prefix start at its
    16-token marks, and its last tokens are read from the last mark before its end, after itself,
    after another prompt, or from the prefix alone; a shared start is still reused."""
    from rag.kvcache import AlignedReads

    prefix = 40
    prompt = list(range(prefix + 100))
    other = prompt[: prefix + 37] + [9] * 50  # shares its first 37 tokens past the prefix
    llm = _Reuses(prefix)
    AlignedReads(llm, lambda: prefix)

    def read(tokens):
        llm.batches = []
        llm.generate(tokens)
        return llm.batches[:-1]  # less the written token

    alone = read(prompt)
    assert alone == [(prefix, 96), (prefix + 96, 4)]
    assert read(prompt) == [(prefix + 96, 4)]  # after itself: all but the last 4 kept
    read(other)
    assert read(prompt) == [(prefix + 32, 64), (prefix + 96, 4)]  # the shared 37 kept up to their mark
    llm.n_tokens = prefix  # the prefix alone
    assert read(prompt) == alone
    assert read(prompt[: prefix + 3]) == [(prefix, 3)]


def test_drafts_are_what_followed_the_latest_occurrence_of_the_last_tokens():
    """rag.drafts.lookup: the tokens after the latest earlier occurrence of the last three tokens,
    else of the last two; never of one alone, and never more than k."""
    from rag.drafts import lookup

    #         0  1  2  3  4  5  6  7  8  9 10 11 12
    tokens = [5, 6, 7, 8, 9, 1, 6, 7, 2, 3, 4, 6, 7]
    assert lookup(tokens, 2) == [2, 3]  # "6 7" last seen at 6-7, followed by 2, 3 (not 8, 9)
    assert lookup(tokens, 10) == [2, 3, 4, 6, 7]
    assert lookup([9, 1, 6, 20, 21, 0, 1, 6, 30, 31, 9, 1, 6], 2) == [20, 21]  # "9 1 6" beats a later "1 6"
    assert lookup([1, 2, 3, 4, 1], 3) == []  # one shared token drafts nothing
    assert lookup(tokens, 0) == []
    assert lookup([6, 7], 3) == []
