"""The README's Python examples, executed as written (in order, one namespace), with
TWIG_API_KEY and TWIG_BASE_URL pointing at the test server."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run(server, receiver, monkeypatch, capsys):
    code = blocks()
    assert len(code) >= 8, "the README lost its examples"
    monkeypatch.setenv("TWIG_API_KEY", server.key)
    monkeypatch.setenv("TWIG_BASE_URL", server.base_url)
    monkeypatch.setenv("WEBHOOK_URL", receiver.url)
    ns: dict = {"__name__": "readme"}
    for i, block in enumerate(code):
        try:
            exec(compile(block, f"README.md[python block {i + 1}]", "exec"), ns)
        except Exception as e:  # pragma: no cover - the message says which block
            raise AssertionError(f"README python block {i + 1} failed: {e!r}\n{block}") from e
    out = capsys.readouterr().out
    assert "refund" in out.lower()
