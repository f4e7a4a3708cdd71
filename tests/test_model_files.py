"""Model file assembly: verified once, re-verified when the file changes, one assembler at a time.

The parts and their checksum are small stand-ins (this is the logic, not the 1.1 GB model,
which `make install` assembles and every end-to-end test loads)."""

import hashlib
import os
import threading

import pytest

from rag import model_files


@pytest.fixture
def parts(tmp_path, monkeypatch):
    files = []
    for i in range(3):
        part = tmp_path / "parts" / f"p{i}"
        part.parent.mkdir(exist_ok=True)
        part.write_bytes(os.urandom(1000 + i))
        files.append(part)
    whole = b"".join(p.read_bytes() for p in files)
    monkeypatch.setattr(model_files, "SHA256", hashlib.sha256(whole).hexdigest())
    monkeypatch.setattr(model_files, "part_paths", lambda: files)
    calls = []
    assemble = model_files._assemble
    monkeypatch.setattr(model_files, "_assemble", lambda *a: (calls.append(1), assemble(*a)))
    return whole, calls


def test_assembled_once_then_trusted_by_its_stamp(parts, tmp_path):
    whole, calls = parts
    path = model_files.ensure_model(tmp_path / "models")
    assert path.read_bytes() == whole and len(calls) == 1
    assert model_files.ensure_model(tmp_path / "models") == path and len(calls) == 1


def test_a_changed_file_is_hashed_again_and_replaced(parts, tmp_path):
    whole, calls = parts
    path = model_files.ensure_model(tmp_path / "models")
    st = path.stat()
    with open(path, "r+b") as f:  # same size, same mtime: only the content differs
        f.write(b"\0" * 16)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    model_files.ensure_model(tmp_path / "models")
    assert path.read_bytes() == whole and len(calls) == 2


def test_two_first_time_processes_assemble_once_and_stale_partials_go(parts, tmp_path):
    whole, calls = parts
    models = tmp_path / "models"
    models.mkdir()
    stale = models / (model_files.FILE_NAME.removesuffix(".gguf") + ".4242.partial")
    stale.write_bytes(b"left by a killed process")
    results = []
    threads = [threading.Thread(target=lambda: results.append(model_files.ensure_model(models))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(calls) == 1 and results[0].read_bytes() == whole
    assert not list(models.glob("*.partial"))


def test_wrong_parts_are_refused_and_leave_nothing(parts, tmp_path, monkeypatch):
    monkeypatch.setattr(model_files, "SHA256", "0" * 64)
    with pytest.raises(model_files.ModelFileError, match="does not match its SHA-256"):
        model_files.ensure_model(tmp_path / "models")
    assert sorted(p.suffix for p in (tmp_path / "models").iterdir()) == [".lock"]
