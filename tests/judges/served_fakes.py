"""A tiny OpenAI-compatible HTTP server on 127.0.0.1 for the served judge's fast tests.

It speaks the two endpoints the judge uses with llama-cpp-python's answer shapes
(``/v1/completions`` with ``echo`` + ``logprobs``; ``/v1/chat/completions`` with
``top_logprobs``) and a deterministic toy "model": a token is a run of word characters or
one other character, and its log-prob depends on the token, on whether the text before it
mentions "harm", and on ``weights`` (change it to play a server whose weights changed).
``fault`` makes it answer the way a broken server does.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = re.compile(r"\w+|\W")


def toy_tokens(text: str) -> list[tuple[str, int]]:
    """``(token, offset)`` of each token of ``text``."""
    return [(m.group(), m.start()) for m in TOKEN.finditer(text)]


def toy_logprob(before: str, token: str, weights: float = 1.0) -> float:
    """The toy model's ``log P(token | before)``: harmful words are likelier after a
    header that mentions harm, other tokens get a fixed hash-based value."""
    base = -1.0 - int(hashlib.sha256(token.encode()).hexdigest()[:4], 16) / 65536 * 3.0
    harmful = token.lower() in {"hit", "injured", "pedestrian", "crashed"}
    primed = "injur" in before or "accident" in before or "harm" in before
    if harmful:
        base += 1.5 if primed else -1.5
    return base * weights


@dataclass
class FakeBehaviour:
    """What the fake server does; tests change it while it runs.

    Attributes:
        weights: Scales every log-prob (1.0: the "locked" model).
        fault: ``None``, ``"500"``, ``"429"`` (``fault_count`` times, then normal),
            ``"json"`` (malformed body), ``"sleep"`` (answers after ``sleep_s``),
            ``"drop"`` (closes the connection without an answer), ``"echo"`` (refuses echo as
            llama.cpp's llama-server does), ``"no_logprobs"`` (answers without log-probs).
        fault_count: For ``"429"``: how many requests are refused before it recovers.
        fault_on_path: The fault only hits requests whose path ends so (``""``: all).
        chat_top: The chat answer's candidates; ``None``: Yes/No from the toy model.
        accept_lists: Whether ``/v1/completions`` takes a list of prompts.
    """

    weights: float = 1.0
    fault: str | None = None
    fault_count: int = 0
    fault_on_path: str = ""
    sleep_s: float = 0.0
    chat_top: list[tuple[str, float]] | None = None
    accept_lists: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults_served: int = 0


def _completion_choice(prompt: str, index: int, weights: float) -> dict[str, Any]:
    tokens = [*toy_tokens(prompt), ("!", len(prompt))]  # max_tokens=1: one generated token
    return {
        "index": index, "text": prompt + "!", "finish_reason": "length",
        "logprobs": {
            "tokens": [t for t, _ in tokens],
            "text_offset": [o for _, o in tokens],
            "token_logprobs": [None] + [toy_logprob(prompt[:o], t, weights)
                                        for t, o in tokens[1:]],
            "top_logprobs": [None] + [{t: -1.0} for t, _ in tokens[1:]],
        },
    }


class _Handler(BaseHTTPRequestHandler):
    behaviour: FakeBehaviour

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _fault(self, payload: dict[str, Any]) -> bool:
        b = self.behaviour
        if b.fault is None or not self.path.endswith(b.fault_on_path):
            return False
        if b.fault == "429":
            if b.fault_count <= 0:
                return False
            b.fault_count -= 1
            b.faults_served += 1
            self._send(429, b'{"error": "rate limited"}', {"Retry-After": "0"})
            return True
        b.faults_served += 1
        if b.fault == "500":
            self._send(500, b'{"error": "internal"}')
        elif b.fault == "json":
            self._send(200, b'{"choices": [ {"text": "trunc')
        elif b.fault == "sleep":
            time.sleep(b.sleep_s)
            return False
        elif b.fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
        elif b.fault == "echo" and payload.get("echo"):
            self._send(500, json.dumps({"error": {"code": 500, "type": "server_error",
                                                  "message": "Unsupported param: echo"}}).encode())
        elif b.fault == "no_logprobs":
            self._send(200, json.dumps({"choices": [{"index": 0, "text": "x",
                                                     "logprobs": None}]}).encode())
        else:
            b.faults_served -= 1
            return False
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length))
        payload["_authorization"] = self.headers.get("Authorization")
        self.behaviour.requests.append(payload)
        if self._fault(payload):
            return
        weights = self.behaviour.weights
        if self.path == "/v1/completions":
            prompts = payload["prompt"]
            if isinstance(prompts, list) and not self.behaviour.accept_lists and len(prompts) > 1:
                self._send(500, b'{"error": "AssertionError"}')
                return
            prompts = prompts if isinstance(prompts, list) else [prompts]
            choices = [_completion_choice(p, i, weights) for i, p in enumerate(prompts)]
            self._send(200, json.dumps({"object": "text_completion", "choices": choices}).encode())
        elif self.path == "/v1/chat/completions":
            content = payload["messages"][-1]["content"]
            top = self.behaviour.chat_top
            if top is None:
                harmful = any(w in content.lower() for w in ("hit", "injured", "crashed"))
                top = [("No", -0.2 * weights), ("Yes", -1.8 * weights)] if harmful else [
                    ("Yes", -0.3 * weights), ("No", -1.5 * weights)]
                top += [("Maybe", -4.0), ("The", -5.0)]
            k = int(payload.get("top_logprobs") or 0)
            content_lp = [{"token": top[0][0], "logprob": top[0][1],
                           "top_logprobs": [{"token": t, "logprob": v} for t, v in top[:k]]}]
            self._send(200, json.dumps({"object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": top[0][0]},
                 "logprobs": {"content": content_lp}}]}).encode())
        else:
            self._send(404, b'{"error": "not found"}')


@contextmanager
def fake_server(behaviour: FakeBehaviour | None = None) -> Iterator[tuple[str, FakeBehaviour]]:
    """Run the fake server on a free 127.0.0.1 port: ``(base_url, behaviour)``."""
    behaviour = behaviour or FakeBehaviour()
    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", behaviour
    finally:
        server.shutdown()
        server.server_close()
