#!/usr/bin/env python3
"""Runs real third-party clients against a real `twig serve` built from this tree.

The clients (the `openai` Python and npm packages, the official `mcp` Python SDK, and
`prometheus_client`'s text parser) are installed into a git-ignored `.venv` and `node_modules`
here, only when the pinned versions change. The server is `target/debug/twig` (built by
`cargo test`; `TWIG_BIN` overrides it), started on a free port with a fresh data directory;
its bootstrap key (printed once on first start) drives the setup. Every `test_*.py` and
`*.test.mjs` then runs with the addresses and keys in its environment (see `setup`).

Usage: tests/clients/run.py [NAME_FILTER]
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(HERE, ".venv")
PY = os.path.join(VENV, "bin", "python")


def log(msg):
    print(f"[clients] {msg}", flush=True)


def ensure_tools():
    """Installs python3-venv and Node.js from Debian when missing (CI starts bare)."""
    need = []
    if subprocess.run([sys.executable, "-c", "import venv, ensurepip"], capture_output=True).returncode:
        need.append("python3-venv")
    if not shutil.which("node") or not shutil.which("npm"):
        need += ["nodejs", "npm"]
    if not need:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing: {' '.join(need)} (install them, or run as root)")
    log(f"installing {' '.join(need)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *need], check=True)


def stamp_ok(path, content):
    return os.path.exists(path) and open(path).read() == content


def ensure_packages():
    req = os.path.join(HERE, "requirements.txt")
    digest = hashlib.sha256(open(req, "rb").read()).hexdigest()
    stamp = os.path.join(VENV, ".installed")
    if not stamp_ok(stamp, digest):
        log("installing Python clients into tests/clients/.venv")
        if not os.path.exists(PY):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", req], check=True)
        open(stamp, "w").write(digest)
    lock = open(os.path.join(HERE, "package-lock.json")).read()
    nstamp = os.path.join(HERE, "node_modules", ".twig-installed")
    if not stamp_ok(nstamp, hashlib.sha256(lock.encode()).hexdigest()):
        log("installing npm clients into tests/clients/node_modules (npm ci)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True)
        open(nstamp, "w").write(hashlib.sha256(lock.encode()).hexdigest())


class Server:
    """A `twig serve` process on a free port with its own data directory."""

    def __init__(self, binary, data_dir, env):
        self.binary, self.data_dir = binary, data_dir
        full = {k: v for k, v in os.environ.items() if not k.startswith("TWIG_") and k != "RUST_LOG"}
        full.update(env)
        self.stdout, self.base = [], None
        ready = threading.Event()
        self.proc = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", data_dir],
            cwd=data_dir, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

        def out():
            for line in self.proc.stdout:
                self.stdout.append(line)

        def err():
            for line in self.proc.stderr:
                if self.base is None and "listening on http://" in line:
                    self.base = line.split("listening on ", 1)[1].split()[0]
                    ready.set()
                sys.stderr.write("[twig] " + line)

        threading.Thread(target=out, daemon=True).start()
        threading.Thread(target=err, daemon=True).start()
        if not ready.wait(60):
            self.stop()
            sys.exit("twig serve did not report its address")
        # The bootstrap block is printed before the listening line.
        deadline = time.time() + 2
        self.key = None
        while time.time() < deadline and not self.key:
            words = "".join(self.stdout).split()
            self.key = next((w for w in words if w.startswith("twigsk_")), None)
            time.sleep(0.02)
        if not self.key:
            self.stop()
            sys.exit("no bootstrap key printed")

    def cli(self, *args):
        out = subprocess.run([self.binary, *args, "--data-dir", self.data_dir], capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"twig {' '.join(args)} failed: {out.stderr}")
        return out.stdout.strip()

    def call(self, method, path, body=None, key=None, raw=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {key or self.key}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")
        return json.loads(text) if text else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


DOC = """# Twig Phone warranty

The Twig Phone comes with a two-year warranty covering manufacturing defects.
Warranty claims for the Twig Phone are handled in any Twig store.

# Twig Phone battery

The battery of the Twig Phone lasts about thirty hours of normal use.
"""


def setup(s):
    """Indexes one document, creates an agent over it and keys of each kind; returns the env."""
    ds = s.call("POST", "/api/v1/data-sources", {"type": "file", "name": "handbook"})["id"]
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"phone.md\"\r\n"
        f"Content-Type: text/markdown\r\n\r\n{DOC}\r\n--{boundary}--\r\n"
    ).encode()
    s.call("POST", f"/api/v1/data-sources/{ds}/files", raw=body,
           content_type=f"multipart/form-data; boundary={boundary}")
    deadline = time.time() + 120
    while True:
        st = s.call("GET", f"/api/v1/data-sources/{ds}/status")
        if st["status"] == "active" and st["chunks_indexed"] > 0:
            break
        if st["status"] in ("failed", "partial") or time.time() > deadline:
            sys.exit(f"indexing failed: {st}")
        time.sleep(0.2)
    agent = s.call("POST", "/api/v1/agents", {"name": "Handbook", "rag_strategy": "redwood",
                                              "data_source_ids": [ds]})["id"]

    def key(scopes):
        return s.call("POST", "/api/v1/api-keys", {"name": "clients", "scopes": scopes})["secret"]

    org = s.call("GET", "/api/v1/me")["org_id"]
    other_org = s.cli("orgs", "create", "--name", "Other")
    other_agent_key = s.cli("keys", "create", "--org", other_org, "--name", "o", "--scopes", "read,write,execute")
    other_agent = s.call("POST", "/api/v1/agents", {"name": "Theirs", "data_source_ids": []}, key=other_agent_key)["id"]
    return {
        "TWIG_BASE": s.base,
        "TWIG_ORG": org,
        "TWIG_KEY": s.key,
        "TWIG_READ_KEY": key(["read"]),
        "TWIG_EXECUTE_KEY": key(["execute"]),
        "TWIG_AGENT": agent,
        "TWIG_DATA_SOURCE": ds,
        "TWIG_OTHER_AGENT": other_agent,
        "TWIG_OTHER_KEY": other_agent_key,
    }


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    ensure_tools()
    ensure_packages()
    binary = os.environ.get("TWIG_BIN") or os.path.join(ROOT, "target", "debug", "twig")
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: run `cargo test -p twig` (or `cargo build`) first")
    tests = sorted(f for f in os.listdir(HERE) if (f.startswith("test_") and f.endswith(".py")) or f.endswith(".test.mjs"))
    tests = [t for t in tests if only in t]
    with tempfile.TemporaryDirectory(prefix="twig-clients-") as data:
        env = {
            "TWIG_EMBEDDING__PROVIDER": "none",  # lexical search: no model download
            "TWIG_ANSWER__SIMILARITY_THRESHOLD": "0.05",  # BM25 scores of a tiny corpus are low
            "TWIG_RATE_LIMITS__ENABLED": "false",
            "TWIG_LOG__LEVEL": "info",  # the address is logged at info
            "TWIG_METRICS__ENABLED": "true",  # /metrics on the API port (test_metrics.py)
        }
        s = Server(binary, data, env)
        failed = []
        try:
            test_env = {**os.environ, **setup(s)}
            for t in tests:
                log(f"running {t}")
                cmd = [PY, t] if t.endswith(".py") else ["node", t]
                started = time.time()
                rc = subprocess.run(cmd, cwd=HERE, env=test_env).returncode
                log(f"{t}: {'ok' if rc == 0 else 'FAILED'} ({time.time() - started:.1f} s)")
                if rc:
                    failed.append(t)
        finally:
            s.stop()
    if failed:
        sys.exit(f"client tests failed: {', '.join(failed)}")
    log(f"{len(tests)} client test files passed")


if __name__ == "__main__":
    main()
