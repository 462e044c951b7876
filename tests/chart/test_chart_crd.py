"""The chart installs and upgrades the OktaIntegration CRD generated from the models.

The CRD is a template (Helm never upgrades crds/), behind crds.install and kept on uninstall
unless crds.keep=false. Kopf's peering CRDs stay in crds/: the chart creates a KopfPeering in the
same release, and Helm can map that object on a first install only if its CRD was installed
before the templates.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from okta_hris.crd import CRD_NAME, crd_manifest, main, render_chart_crd
from tests.chart.rendering import CHART, REPO, chart, render

TEMPLATE = CHART / "templates" / "crd-oktaintegrations.yaml"


def test_the_committed_template_is_the_generated_one() -> None:
    assert TEMPLATE.read_text(encoding="utf-8") == render_chart_crd(), "run make crd"


def test_python_m_okta_hris_crd_chart_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--chart"])
    assert capsys.readouterr().out == render_chart_crd()
    with pytest.raises(SystemExit, match="usage"):
        main(["--charts"])


def test_make_crd_writes_both_files() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\ncrd:", 1)[1].split("\n\n", 1)[0]
    assert "-m okta_hris.crd > crds/oktaintegrations.hris.dev.yaml" in target
    assert f"-m okta_hris.crd --chart > {TEMPLATE.relative_to(REPO)}" in target


def _without_chart_metadata(crd: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in crd["metadata"].items() if k not in ("labels", "annotations")}
    return {**crd, "metadata": metadata}


def test_the_rendered_crd_is_the_generated_crd_plus_labels_and_keep() -> None:
    crd = render().one("CustomResourceDefinition")
    assert _without_chart_metadata(crd) == crd_manifest()
    committed = yaml.safe_load((REPO / "crds" / f"{CRD_NAME}.yaml").read_text(encoding="utf-8"))
    assert _without_chart_metadata(crd) == committed
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_crds_keep_false_lets_uninstall_delete_the_crd() -> None:
    crd = render({"crds": {"keep": False}}).one("CustomResourceDefinition")
    assert "annotations" not in crd["metadata"]


def test_crds_install_false_leaves_the_crd_out() -> None:
    assert render({"crds": {"install": False}}).of_kind("CustomResourceDefinition") == []


def test_crds_dir_holds_only_kopf_peering_crds() -> None:
    """The OktaIntegration CRD in crds/ as well would be installed twice, and conflict."""
    shipped = [yaml.safe_load_all(c["data"]) for c in chart().crds]
    kinds = {doc["spec"]["names"]["kind"] for docs in shipped for doc in docs}
    assert kinds == {"KopfPeering", "ClusterKopfPeering"}
    assert not (CHART / "crds" / f"{CRD_NAME}.yaml").exists()
