"""The Kubernetes manifests as `kubectl apply -k` would send them: rendered by the real
`kustomize` (pinned; built once from the Go module proxy into .data/tools/)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZE_VERSION = "v5.5.0"
KUSTOMIZE_DIR = ROOT / ".data" / "tools" / f"kustomize-{KUSTOMIZE_VERSION}"


def kustomize() -> Path:
    """The pinned kustomize binary, built with the machine's Go toolchain the first time."""
    binary = KUSTOMIZE_DIR / "kustomize"
    if binary.exists():
        return binary
    KUSTOMIZE_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(KUSTOMIZE_DIR), "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    subprocess.run(
        ["go", "install", f"sigs.k8s.io/kustomize/kustomize/v5@{KUSTOMIZE_VERSION}"],
        env=env,
        check=True,
        timeout=1200,
    )
    assert binary.exists(), "go install did not produce kustomize"
    return binary


def render(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(kustomize()), "build", str(directory)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@pytest.fixture(scope="session")
def base() -> list[dict[str, Any]]:
    return render(K8S / "base")


@pytest.fixture(scope="session")
def production() -> list[dict[str, Any]]:
    return render(K8S / "overlays" / "production")


@pytest.fixture(scope="session", params=["base", "production"])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """Each kustomization a force may apply."""
    value: list[dict[str, Any]] = request.getfixturevalue(request.param)
    return value


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    """deploy/k8s/generate.py, imported as a module."""
    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module
