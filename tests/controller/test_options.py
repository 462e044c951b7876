"""options: the operator's timing knobs, read once from the environment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from okta_hris.controller.options import ControllerConfig
from okta_hris.errors import ConfigError


class TestConfig:
    def test_defaults(self) -> None:
        assert ControllerConfig.from_env({}) == ControllerConfig()

    def test_durations_and_numbers(self) -> None:
        config = ControllerConfig.from_env(
            {"HRIS_RETRY_BACKOFF": "0.5", "HRIS_RETRY_BACKOFF_MAX": "2m", "HRIS_SYNC_JITTER": "0"}
        )
        assert config.retry_backoff == timedelta(seconds=0.5)
        assert config.retry_backoff_max == timedelta(minutes=2)
        assert config.jitter == 0.0

    def test_the_secret_is_read_again_every_30s_unless_told(self) -> None:
        assert ControllerConfig().secret_retry == timedelta(seconds=30)
        config = ControllerConfig.from_env({"HRIS_SECRET_RETRY": "5s"})
        assert config.secret_retry == timedelta(seconds=5)

    @pytest.mark.parametrize(
        ("value", "required"),
        [("", False), ("true", True), ("1", True), ("YES", True), ("false", False), ("no", False)],
    )
    def test_require_persistent_db(self, value: str, required: bool) -> None:
        config = ControllerConfig.from_env({"HRIS_REQUIRE_PERSISTENT_DB": value})
        assert config.require_persistent_db is required

    @pytest.mark.parametrize(
        "env",
        [
            {"HRIS_RETRY_BACKOFF": "soon"},
            {"HRIS_SYNC_JITTER": "2"},
            {"HRIS_RETRY_BACKOFF": "10m", "HRIS_RETRY_BACKOFF_MAX": "1m"},
            {"HRIS_MIN_SYNC_INTERVAL": "0"},
            {"HRIS_SECRET_RETRY": "0"},
            {"HRIS_SECRET_RETRY": "often"},
            {"HRIS_REQUIRE_PERSISTENT_DB": "maybe"},
        ],
    )
    def test_bad_values_name_the_variable(self, env: dict[str, str]) -> None:
        with pytest.raises(ConfigError, match="HRIS_"):
            ControllerConfig.from_env(env)
