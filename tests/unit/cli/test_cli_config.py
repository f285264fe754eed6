"""Settings come from a TOML file and the environment (which wins); commands explain themselves."""

from pathlib import Path

import pytest

from stream_align.cli import build_parser, main
from stream_align.cli.config import describe, load_settings
from stream_align.cli.errors import ConfigError


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "c.toml"
    config.write_text('[kafka]\nbootstrap_servers = "file:1"\npartitions = 5\n'
                      '[store]\npath = "/data/state"\n')
    monkeypatch.setenv("STREAM_ALIGN_KAFKA__PARTITIONS", "7")
    settings = load_settings(config)
    assert settings.kafka.bootstrap_servers == "file:1"
    assert settings.kafka.partitions == 7
    assert settings.store.path == Path("/data/state")


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    for name, value in {
        "KAFKA__SECURITY_PROTOCOL": "SASL_SSL", "KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA__SASL_USERNAME": "svc", "KAFKA__SASL_PASSWORD": "hunter2",
        "KAFKA__EXTRA_CONFIG": '{"ssl.keystore.password": "ks-secret", "linger.ms": 5}',
        "CODEC__SCHEMA_REGISTRY_URL": "https://sr:8081/?access_token=tok3n",
        "CODEC__SCHEMA_REGISTRY_USERNAME": "sr-user", "CODEC__SCHEMA_REGISTRY_PASSWORD": "pw9",
        "OBSERVABILITY__OTLP_ENDPOINT": "https://otel-user:otelpw@collector:4318",
    }.items():
        monkeypatch.setenv(f"STREAM_ALIGN_{name}", value)
    settings = load_settings(None)
    assert settings.kafka.client_config()["sasl.password"] == "hunter2"
    assert settings.kafka.client_config()["ssl.keystore.password"] == "ks-secret"
    assert settings.codec.registry_client_config()["basic.auth.user.info"] == "sr-user:pw9"
    main(["config", "--show"])
    out = capsys.readouterr().out
    for secret in ("hunter2", "ks-secret", "tok3n", "pw9", "otelpw", "otel-user"):
        assert secret not in out
    assert '"linger.ms": 5' in out and "sr-user" in out and "collector:4318" in out
    assert "hunter2" not in repr(settings) and "ks-secret" not in repr(settings)


def test_registry_credentials_in_the_url_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STREAM_ALIGN_CODEC__SCHEMA_REGISTRY_URL", "https://u:hunter2@sr:8081")
    with pytest.raises(ConfigError, match="must not carry credentials") as caught:
        load_settings(None)
    assert "hunter2" not in str(caught.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_every_setting_is_documented_with_its_variable():
    rows = list(describe())
    assert rows and all(env.startswith("STREAM_ALIGN_") and description
                        for env, _, _, description in rows)
    assert any(env == "STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS" for env, *_ in rows)


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]):
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(subparsers.choices) >= {"topics", "config", "replay", "consume"}
    for name in subparsers.choices:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: stream-align" in capsys.readouterr().out


def test_input_limits_are_settings_and_must_fit_the_output(monkeypatch: pytest.MonkeyPatch):
    assert any(env == "STREAM_ALIGN_CODEC__LIMITS__MAX_KEY_BYTES" for env, *_ in describe())
    monkeypatch.setenv("STREAM_ALIGN_CODEC__LIMITS__MAX_KEY_BYTES", "2048")
    assert load_settings(None).codec.limits.max_key_bytes == 2048
    monkeypatch.setenv("STREAM_ALIGN_CODEC__LIMITS__MAX_KEY_BYTES", "65535")
    with pytest.raises(ConfigError, match="lets an alignment event reach"):
        load_settings(None)
    monkeypatch.setenv("STREAM_ALIGN_CODEC__MAX_BYTES", str(32 << 20))
    assert load_settings(None).codec.limits.max_key_bytes == 65535
