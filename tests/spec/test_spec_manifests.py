"""load_manifests: multi-document YAML files as ``kubectl apply -f`` accepts them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from okta_hris.cli.manifests import SecretManifest, load_manifest_file, load_manifests
from okta_hris.errors import ConfigError, InvalidSpec, SecretNotFound


def integration(name: str = "acme", namespace: str | None = "people-ops", extra: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"""apiVersion: hris.dev/v1alpha1
kind: OktaIntegration
metadata:
  name: {name}{ns}
spec:
  okta:
    subdomain: acme
    tokenSecretRef: {{name: okta-api-token}}
{extra}"""


def secret(body: str, name: str = "okta-api-token", namespace: str = "people-ops") -> str:
    return f"""apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: {namespace}}}
{body}"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_error(text: str, name: str | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_manifests(text, name, source="file.yaml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_integration_with_secrets_in_string_data_and_data() -> None:
    text = "\n---\n".join(
        [
            integration(),
            secret("stringData: {token: sandbox-token}"),
            secret(
                f"data: {{host: {b64('smtp.example.com')}, password: {b64('pässword')}}}\n"
                "stringData: {port: '587'}",
                name="smtp",
            ),
        ]
    )
    manifests = load_manifests(text, source="acme.yaml")
    assert manifests.integration.integration_key == "people-ops/acme"
    assert manifests.integration.spec.okta.token_secret_ref.key == "token"
    assert manifests.secret_value("okta-api-token", "token") == "sandbox-token"
    smtp = manifests.secret("smtp")
    assert smtp is not None
    assert dict(smtp.data) == {"host": "smtp.example.com", "password": "pässword", "port": "587"}
    assert manifests.source == "acme.yaml"


def test_string_data_wins_over_data_as_in_kubernetes() -> None:
    text = (
        integration()
        + "---\n"
        + secret(f"data: {{token: {b64('old')}}}\nstringData: {{token: new}}")
    )
    assert load_manifests(text).secret_value("okta-api-token", "token") == "new"


def test_secret_values_stay_out_of_repr() -> None:
    manifest = SecretManifest(name="s", namespace=None, data={"token": "sandbox-token"})
    assert "sandbox-token" not in repr(manifest)
    manifests = load_manifests(integration() + "---\n" + secret("stringData: {token: s3cr3t}"))
    assert "s3cr3t" not in repr(manifests)


def test_missing_secret_and_missing_key() -> None:
    manifests = load_manifests(integration() + "---\n" + secret("stringData: {password: hunter2}"))
    with pytest.raises(SecretNotFound, match="has no key 'token' \\(keys: password\\)") as caught:
        manifests.secret_value("okta-api-token", "token")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(SecretNotFound, match="has no Secret 'smtp' for OktaIntegration 'acme'"):
        manifests.secret_value("smtp", "host")


def test_two_secrets_of_the_same_name() -> None:
    text = "\n---\n".join(
        [integration(), secret("stringData: {token: a}"), secret("stringData: {token: b}")]
    )
    assert config_error(text) == ("file.yaml has more than one Secret named 'okta-api-token'")


def test_secret_of_another_namespace_is_not_used() -> None:
    text = integration() + "---\n" + secret("stringData: {token: t}", namespace="kube-system")
    assert load_manifests(text).secret("okta-api-token") is None


def test_an_integration_without_namespace_is_in_default() -> None:
    unnamespaced = "apiVersion: v1\nkind: Secret\nmetadata: {name: okta-api-token}\n"
    body = "stringData: {token: t}\n"
    for other in (unnamespaced + body, secret(body, namespace="default")):
        text = integration(namespace=None) + "---\n" + other
        manifests = load_manifests(text)
        assert manifests.integration.integration_key == "default/acme"
        assert manifests.secret_value("okta-api-token", "token") == "t"
    # A Secret named into another namespace is not this integration's, as in a cluster.
    elsewhere = integration(namespace=None) + "---\n" + secret("stringData: {token: t}")
    with pytest.raises(SecretNotFound):
        load_manifests(elsewhere).secret_value("okta-api-token", "token")


def test_wrapped_base64_is_read_as_kubernetes_reads_it() -> None:
    token = "t" * 80
    encoded = b64(token)
    wrapped = "\n    ".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    text = integration() + "---\n" + secret(f"data:\n  token: |\n    {wrapped}\n")
    assert load_manifests(text).secret_value("okta-api-token", "token") == token


def test_bad_base64_names_the_key_not_the_value() -> None:
    message = config_error(integration() + "---\n" + secret("data: {token: not-base64!!}"))
    assert message == (
        "file.yaml: Secret 'okta-api-token': data.token is not valid base64 text "
        "(use stringData for plain text)"
    )


def test_base64_of_binary_data_is_refused_as_not_text() -> None:
    # The base64 is valid: what it decodes to is not a token (issue 13, item 10).
    binary = base64.b64encode(b"\xff\xfe").decode()
    message = config_error(integration() + "---\n" + secret(f"data: {{token: '{binary}'}}"))
    assert message.endswith("data.token is base64 of data that is not UTF-8 text")


def test_string_data_must_hold_strings() -> None:
    message = config_error(integration() + "---\n" + secret("stringData: {port: 587}", name="smtp"))
    assert (
        message == "file.yaml: Secret 'smtp': stringData.port must be a string (quote it in YAML)"
    )


def test_no_integration() -> None:
    message = config_error(secret("stringData: {token: t}"))
    assert message == "file.yaml has no OktaIntegration (apiVersion hris.dev/v1alpha1)"
    assert config_error("") == message


def test_several_integrations_need_a_name() -> None:
    text = integration("acme") + "---\n" + integration("acme-engineering")
    assert config_error(text) == (
        "file.yaml has 2 OktaIntegrations (acme, acme-engineering); choose one"
    )
    assert load_manifests(text, "acme-engineering").integration.metadata.name == "acme-engineering"
    assert load_manifests(text, "people-ops/acme").integration.metadata.name == "acme"
    assert config_error(text, "acme-sales") == (
        "file.yaml has no OktaIntegration named 'acme-sales' (found: acme, acme-engineering)"
    )


def test_same_name_in_two_namespaces() -> None:
    text = integration(namespace="a") + "---\n" + integration(namespace="b")
    assert "use namespace/name" in config_error(text, "acme")
    assert load_manifests(text, "b/acme").integration.integration_key == "b/acme"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "apiVersion: hris.dev/v1\nkind: OktaIntegration",
            "file.yaml: document 1 has apiVersion 'hris.dev/v1'; an OktaIntegration is "
            "hris.dev/v1alpha1",
        ),
        (
            "apiVersion: hris.dev/v1alpha1\nkind: OktaIntegrations",
            "file.yaml: document 1 has kind 'OktaIntegrations'; the kind of hris.dev/v1alpha1 "
            "is OktaIntegration",
        ),
        ("apiVersion: hris.dev/v1alpha1", "file.yaml: document 1 has no kind"),
        ("kind: OktaIntegration", "file.yaml: document 1 (OktaIntegration) has no apiVersion"),
        (
            "apiVersion: apps/v1\nkind: Secret",
            "file.yaml: document 1 has apiVersion 'apps/v1'; a Secret is v1",
        ),
    ],
)
def test_wrong_api_version_or_kind(header: str, message: str) -> None:
    assert config_error(header + "\nmetadata: {name: acme}\n") == message


def test_other_kinds_are_ignored() -> None:
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: people-ops}\n"
    assert load_manifests(namespace + "---\n" + integration()).integration.metadata.name == "acme"


def test_kind_list_is_expanded() -> None:
    text = """apiVersion: v1
kind: List
items:
- apiVersion: hris.dev/v1alpha1
  kind: OktaIntegration
  metadata: {name: acme}
  spec: {okta: {subdomain: acme, tokenSecretRef: {name: okta-api-token}}}
- apiVersion: v1
  kind: Secret
  metadata: {name: okta-api-token}
  stringData: {token: t}
"""
    manifests = load_manifests(text)
    assert manifests.secret_value("okta-api-token", "token") == "t"


def test_yaml_syntax_error_has_the_line() -> None:
    text = integration(extra="  sync:\n    scope: [All\n")
    assert config_error(text) == (
        "file.yaml: YAML syntax error at line 12, column 1: expected ',' or ']', but got "
        "'<stream end>' (while parsing a flow sequence at line 11)"
    )


def test_duplicate_keys_are_refused_as_kubectl_does() -> None:
    # Keeping the last key would silently drop a filter.
    text = integration(extra="  filters:\n    teams: {include: [Engineering]}\n    teams: {}\n")
    message = config_error(text)
    assert message.startswith("file.yaml: YAML syntax error at line 12, column 5: duplicate key")


def test_document_that_is_not_an_object() -> None:
    message = config_error(integration() + "---\n- a\n- b\n")
    assert message == (
        "file.yaml: document 2 is a list, not a Kubernetes object (a mapping with apiVersion "
        "and kind)"
    )


def test_invalid_spec_names_the_integration_and_the_paths() -> None:
    text = integration(
        extra="  sync: {scope: Everything}\n  filters: {countries: {include: [Germany]}}\n"
    )
    with pytest.raises(InvalidSpec) as caught:
        load_manifests(text, source="file.yaml")
    assert str(caught.value) == (
        "file.yaml: OktaIntegration 'acme' is invalid: "
        "spec.sync.scope: must be 'All' or 'Filtered', not 'Everything'; "
        "spec.filters.countries.include[0]: 'Germany' is not an ISO 3166-1 alpha-2 country code; "
        "did you mean DE?"
    )


def test_invalid_metadata() -> None:
    text = integration(name="Acme_Corp")
    assert "metadata.name: 'Acme_Corp' is not a Kubernetes object name" in config_error(text)
    no_name = integration().replace("  name: acme\n", "")
    assert "document 1 (OktaIntegration) is invalid: metadata.name: is required" in config_error(
        no_name
    )


def test_allowed_domains_reach_the_spec() -> None:
    text = integration().replace("subdomain: acme", "subdomain: id\n    domain: login.example.com")
    assert "is not an allowed Okta domain" in config_error(text)
    manifests = load_manifests(text, allowed_domains=["login.example.com"])
    assert manifests.integration.spec.okta.base_url == "https://id.login.example.com"


def test_file_loader(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(integration(), encoding="utf-8")
    assert load_manifest_file(path).source == str(path)

    with pytest.raises(
        ConfigError, match=r"^cannot read .*missing\.yaml: No such file or directory$"
    ):
        load_manifest_file(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"^cannot read .*: Is a directory$"):
        load_manifest_file(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="it is not UTF-8 text"):
        load_manifest_file(latin1)
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: YAML syntax error at line 1, column 8"):
        load_manifest_file(broken)
