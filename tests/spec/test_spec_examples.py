"""examples/: what they declare, and the copies packaged for ``okta-hris demo``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from okta_hris.cli.manifests import Manifests, load_manifests

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PACKAGED = resources.files("okta_hris") / "data" / "examples"


def all_examples(name: str) -> Manifests:
    """The examples as one file, as ``kubectl apply -f examples/`` would see them."""
    text = "\n---\n".join(p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml")))
    return load_manifests(text, name, source="examples/")


def test_packaged_examples_are_byte_identical_copies() -> None:
    originals = {p.name: p.read_bytes() for p in EXAMPLES.glob("*.yaml")}
    packaged = {p.name: p.read_bytes() for p in PACKAGED.iterdir() if p.name.endswith(".yaml")}
    assert set(originals) == {
        "okta-token-secret.yaml",
        "minimal.yaml",
        "filtered.yaml",
        "oauth.yaml",
    }
    assert packaged == originals, "copy examples/*.yaml to operator/okta_hris/data/examples/"


def test_minimal_example() -> None:
    manifests = all_examples("acme")
    assert manifests.integration.integration_key == "people-ops/acme"
    spec = manifests.integration.spec
    assert spec.okta.base_url == "https://acme.okta.com"
    assert spec.sync.scope == "All"
    ref = spec.okta.token_secret_ref
    # The demo syncs against the bundled sandbox, whose default token this is.
    assert manifests.secret_value(ref.name, ref.key) == "sandbox-token"


def test_filtered_example() -> None:
    manifests = all_examples("acme-engineering")
    assert manifests.integration.integration_key == "people-ops/acme-engineering"
    spec = manifests.integration.spec
    assert spec.sync.scope == "Filtered"
    assert spec.sync.email_source == "Work"
    assert spec.sync.interval == "1h"
    assert spec.safety.max_deactivations == "20%"
    filters = spec.filters.model_dump()
    assert filters == {
        "countries": {"include": ["US", "DE"], "exclude": []},
        "teams": {"include": ["Engineering"], "exclude": ["Interns"]},
        "status": {"include": ["Active"], "exclude": []},
        "employment": {"include": ["Full-time", "Contractor"], "exclude": []},
    }
    ref = spec.okta.token_secret_ref
    assert manifests.secret_value(ref.name, ref.key) == "sandbox-token"


def test_each_integration_example_stands_alone() -> None:
    """Each integration example is a whole OktaIntegration on its own; its token Secret is the
    one okta-token-secret.yaml declares, not a copy of it."""
    (secret,) = [s for s in all_examples("acme").secrets if s.name == "okta-api-token"]
    expected = {"minimal.yaml": "people-ops/acme", "filtered.yaml": "people-ops/acme-engineering"}
    for name, key in expected.items():
        manifests = load_manifests((EXAMPLES / name).read_text(encoding="utf-8"), source=name)
        assert manifests.integration.integration_key == key, name
        assert manifests.secrets == (), name
        ref = manifests.integration.spec.okta.token_secret_ref
        assert (ref.name, manifests.integration.metadata.namespace) == (
            secret.name,
            secret.namespace,
        ), name
        assert ref.key in secret.data, name


def test_oauth_example() -> None:
    """A service app instead of a token; its key Secret holds a placeholder, never a real key."""
    manifests = all_examples("acme-oauth")
    okta = manifests.integration.spec.okta
    assert okta.token_secret_ref is None and okta.oauth is not None
    assert okta.oauth.scopes == ["okta.users.read", "okta.groups.read", "okta.logs.read"]
    ref = okta.oauth.private_key_secret_ref
    assert "PRIVATE KEY-----" in manifests.secret_value(ref.name, ref.key)
    assert "replace with" in manifests.secret_value(ref.name, ref.key)
