"""Processes and loopback servers the suite talks to: the real `twig serve` built from this
tree, a slow OpenAI-compatible chat server, and a webhook receiver."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[3]


def twig_bin() -> Path:
    """The `twig` binary that `cargo test` built (or TWIG_BIN)."""
    path = Path(os.environ.get("TWIG_BIN") or REPO / "target" / "debug" / "twig")
    if not path.exists():
        raise RuntimeError(f"{path} does not exist: build it first (`cargo build --bin twig`)")
    return path


class TwigServer:
    """`twig serve` on a free port with a fresh data dir; `key` is the bootstrap key."""

    def __init__(self, env: Optional[Dict[str, str]] = None, config: str = "") -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="twig-sdk-py-")
        self.data_dir = Path(self._dir.name)
        if config:
            (self.data_dir / "twig.toml").write_text(config)
        full_env = dict(os.environ)
        full_env.pop("RUST_LOG", None)
        full_env.update(
            {
                "TWIG_LOG__LEVEL": "info",
                "TWIG_EMBEDDING__PROVIDER": "none",
                "TWIG_RATE_LIMITS__ENABLED": "false",
            }
        )
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [str(twig_bin()), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(self.data_dir)],
            cwd=self.data_dir,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: List[str] = []
        self.stderr: List[str] = []
        found = threading.Event()
        self.base_url = ""

        def read_err() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = re.search(r"listening on (http://\S+)", line)
                if m and not found.is_set():
                    self.base_url = m.group(1)
                    found.set()

        def read_out() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.stdout.append(line)

        threading.Thread(target=read_err, daemon=True).start()
        threading.Thread(target=read_out, daemon=True).start()
        if not found.wait(60):
            self.stop()
            raise RuntimeError("twig serve did not start:\n" + "".join(self.stderr[-40:]))
        deadline = time.time() + 5
        self.key = ""
        while time.time() < deadline and not self.key:
            m = re.search(r"\b(twigsk_\S+)", "".join(self.stdout))
            if m:
                self.key = m.group(1)
            else:
                time.sleep(0.02)
        if not self.key:
            raise RuntimeError("no bootstrap key printed:\n" + "".join(self.stdout))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._dir.cleanup()


def _free_server(handler: type) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class SlowChat:
    """An OpenAI-compatible Chat Completions server that streams `TOKENS` pieces slowly and
    records whether the client hung up before the end."""

    TOKENS = 60
    DELAY = 0.05

    def __init__(self) -> None:
        self.disconnected = threading.Event()
        self.completed = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                if not body.get("stream"):
                    time.sleep(outer.TOKENS * outer.DELAY)
                    data = json.dumps(
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "model": body.get("model"),
                            "choices": [
                                {"index": 0, "message": {"role": "assistant", "content": "Refunds take 30 days."},
                                 "finish_reason": "stop"}
                            ],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                        }
                    ).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                try:
                    for i in range(outer.TOKENS):
                        chunk = {"id": "c", "object": "chat.completion.chunk", "model": body.get("model"),
                                 "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(outer.DELAY)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    outer.completed += 1
                except (BrokenPipeError, ConnectionResetError):
                    outer.disconnected.set()
                self.close_connection = True

        self.server = _free_server(Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        self.server.shutdown()


class Receiver:
    """A webhook endpoint that records each delivery's headers and raw body."""

    def __init__(self) -> None:
        self.deliveries: List[Dict[str, object]] = []
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                with outer.cond:
                    outer.deliveries.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": raw})
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = _free_server(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, pred, timeout: float = 20.0) -> Dict[str, object]:
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for d in self.deliveries:
                    if pred(d):
                        return d
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no matching delivery in {timeout}s; got {self.deliveries!r}")
                self.cond.wait(left)

    def stop(self) -> None:
        self.server.shutdown()


class ErrorServer:
    """Answers every request with `status` and the documented error body (for 500/503, which
    the real server cannot be made to answer on demand), counting requests."""

    def __init__(self, status: int, code: str, retry_after: Optional[str] = None) -> None:
        self.count = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _answer(self) -> None:
                outer.count += 1
                n = int(self.headers.get("content-length", 0) or 0)
                if n:
                    self.rfile.read(n)
                data = json.dumps(
                    {"error": {"code": code, "message": f"simulated {status}", "details": {"n": outer.count}},
                     "request_id": f"req_test{outer.count}"}
                ).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("x-request-id", f"req_test{outer.count}")
                if retry_after is not None:
                    self.send_header("retry-after", retry_after)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.server = _free_server(Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
