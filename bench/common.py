"""Helpers shared by the benchmarks: the SQuAD corpus written out as article files (one
definition, in eval.corpora, serves the benchmarks and the evaluation sets)."""

from eval.corpora import SQUAD, squad_paragraphs, write_articles

__all__ = ["SQUAD", "squad_paragraphs", "write_articles"]
