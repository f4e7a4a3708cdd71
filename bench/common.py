"""Helpers shared by the benchmarks: the SQuAD corpus written out as article files (one
definition, in eval.corpora, serves the benchmarks and the evaluation sets), and peak memory."""

import resource

from eval.corpora import SQUAD, squad_paragraphs, write_articles

__all__ = ["SQUAD", "own_peak_mb", "squad_paragraphs", "write_articles"]


def own_peak_mb() -> float:
    """This process's peak resident memory in MB, from /proc (VmHWM). Not ru_maxrss alone: Linux
    keeps the parent's high-water mark in it across exec, so a child started by a large process
    (a test session holding two models) would report the parent's peak as its own."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
