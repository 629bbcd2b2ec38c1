import pytest

from scanflow.settings import Settings, load_settings

pytestmark = pytest.mark.unit


def test_env_overrides_yaml_overrides_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "scanflow.yaml"
    cfg.write_text("api_port: 9001\nlake_dir: /data/lake\ndetectors: [volume_surge]\n")
    monkeypatch.setenv("SCANFLOW_CONFIG", str(cfg))
    s = Settings()
    assert s.api_port == 9001 and str(s.lake_dir) == "/data/lake"
    monkeypatch.setenv("SCANFLOW_API_PORT", "9002")
    monkeypatch.setenv("SCANFLOW_BOOTSTRAP_SERVERS", "127.0.0.1:9999")
    s = Settings()
    assert s.api_port == 9002 and s.bootstrap == "127.0.0.1:9999"


def test_embedded_broker_is_the_default_bootstrap(monkeypatch):
    monkeypatch.delenv("SCANFLOW_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("SCANFLOW_CONFIG", raising=False)
    s = Settings(broker_port=19555)
    assert s.bootstrap_servers is None and s.bootstrap == "127.0.0.1:19555"


def test_bad_values_fail_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("SCANFLOW_API_PORT", "70000")
    with pytest.raises(ValueError, match="out of range"):
        Settings()
    monkeypatch.delenv("SCANFLOW_API_PORT")
    with pytest.raises(FileNotFoundError, match="not a file"):
        load_settings(tmp_path / "nope.yaml")


def test_detectors_from_a_comma_list(monkeypatch):
    monkeypatch.setenv("SCANFLOW_DETECTORS", "volume_surge, mean_reversion")
    assert Settings().detectors == ["volume_surge", "mean_reversion"]
