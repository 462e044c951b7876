"""kube: the namespace ``okta-hris resync`` picks without -n, as kubectl does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from okta_hris.controller.kube import default_namespace


class TestDefaultNamespace:
    """``okta-hris resync`` without -n uses the namespace kubectl would."""

    @staticmethod
    def kubeconfig(path: Path, namespaces: dict[str, str | None], current: str) -> Path:
        contexts = []
        for name, namespace in namespaces.items():
            context: dict[str, str] = {"cluster": "c", "user": "u"}
            if namespace:
                context["namespace"] = namespace
            contexts.append({"name": name, "context": context})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": contexts,
            "current-context": current,
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def test_the_context_namespace(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        path = self.kubeconfig(tmp_path / "config", {"a": "people", "b": None}, current="a")
        monkeypatch.setenv("KUBECONFIG", str(path))
        assert default_namespace() == "people"
        assert default_namespace(context="b") == "default"
        other = self.kubeconfig(tmp_path / "other", {"x": "ops"}, current="x")
        assert default_namespace(str(other)) == "ops"

    def test_default_without_a_kubeconfig(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        assert default_namespace() == "default"
