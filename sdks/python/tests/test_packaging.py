"""`pip install ./sdks/python` from the tree, with no index (offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_installs_offline_and_is_typed(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
         "--no-deps", "--target", str(target), str(ROOT)],
        check=True,
    )
    pkg = target / "twig"
    assert (pkg / "py.typed").exists()
    assert (pkg / "types" / "_generated.py").exists()
    dist = [p.name for p in target.glob("twig_sdk-*.dist-info")]
    assert dist, list(target.iterdir())
    out = subprocess.run(
        [sys.executable, "-c", "import twig, sys; print(twig.__file__); print(twig.Twig, twig.AsyncTwig)"],
        check=True, capture_output=True, text=True, env={"PYTHONPATH": str(target)}, cwd=tmp_path,
    ).stdout
    assert str(target) in out
