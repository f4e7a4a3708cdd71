"""`rag ingest`, killed with SIGKILL at a chosen Chroma write: a real kill -9 at a known point.

    python tests/helpers/crash_ingest.py upsert N [PATHS]   # die right after the Nth upsert
    python tests/helpers/crash_ingest.py delete N [PATHS]   # die right before the Nth delete
    python tests/helpers/crash_ingest.py modify N [PATHS]   # die right before the Nth metadata write
"""

import os
import signal
import sys

from chromadb.api.models.Collection import Collection

WHEN, N = sys.argv[1], int(sys.argv[2])
calls = {"upsert": 0, "delete": 0, "modify": 0}


def _patch(name: str) -> None:
    original = getattr(Collection, name)

    def patched(self, *args, **kwargs):
        if name == WHEN and name in ("delete", "modify"):
            calls[name] += 1
            if calls[name] >= N:
                os.kill(os.getpid(), signal.SIGKILL)
        result = original(self, *args, **kwargs)
        if name == WHEN == "upsert":
            calls[name] += 1
            if calls[name] >= N:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(Collection, name, patched)


_patch("upsert")
_patch("delete")
_patch("modify")

from ui.cli import main  # noqa: E402 - after the patch, as a user's process would import it

sys.exit(main(["ingest", "--quiet", *sys.argv[3:]]))
