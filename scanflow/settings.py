"""Settings: one object, read once, passed in.

Sources, highest precedence first: keyword arguments, environment variables
prefixed ``SCANFLOW_`` (``SCANFLOW_API_PORT=9000``), the YAML file named by
``SCANFLOW_CONFIG`` (or ``--config``), then the defaults below. Nested venue
settings use a double underscore, e.g. ``SCANFLOW_BINANCE_WS_URL``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCANFLOW_", extra="ignore")

    #: Kafka bootstrap servers. Empty: ``scanflow up`` starts the embedded broker.
    bootstrap_servers: str | None = None
    #: Where the lake (hive-partitioned parquet) lives.
    lake_dir: Path = Path("lake")
    #: Broker data, pid files and logs of processes started by the CLI.
    data_dir: Path = Path(".scanflow")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    #: Port of the embedded broker started by ``scanflow broker start`` / ``up``.
    broker_port: int = 19092
    #: Port of Apache Kafka started by ``scanflow broker start --engine kafka``.
    kafka_port: int = 29092
    partitions: int = 8
    #: Detectors the worker runs (one ``signals.<name>`` topic each).
    detectors: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["volume_surge"])
    #: Consumer group session timeout; the embedded broker makes a join wait half of it.
    session_timeout_ms: int = 10_000
    worker_batch_size: int = 1000
    worker_batch_ms: int = 50
    sink_batch_rows: int = 100_000
    sink_flush_ms: int = 1000
    demo_symbols: int = 40
    demo_seed: int = 7
    demo_speed: float = 60.0
    demo_history_minutes: int = 360
    log_level: str = "INFO"

    @field_validator("detectors", mode="before")
    @classmethod
    def _split_detectors(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [d.strip() for d in v.split(",") if d.strip()]
        return v

    @field_validator("api_port", "broker_port", "kafka_port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 0 < v < 65536:
            raise ValueError(f"port {v} is out of range 1-65535")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers to use: configured ones, or the embedded broker's."""
        return self.bootstrap_servers or f"127.0.0.1:{self.broker_port}"


class _YamlSource(PydanticBaseSettingsSource):
    """Values from the YAML file named by ``SCANFLOW_CONFIG`` (keys as field names)."""

    def __call__(self) -> dict[str, Any]:
        path = _config_override or os.environ.get("SCANFLOW_CONFIG")
        if not path:
            return {}
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"SCANFLOW_CONFIG points at {p}, which is not a file")
        data = yaml.safe_load(p.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{p}: top level must be a mapping of setting names to values")
        return data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


_config_override: str | None = None


def config_path() -> str | None:
    """The YAML file in use, if any (passed on to child processes)."""
    return _config_override or os.environ.get("SCANFLOW_CONFIG")


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings once. ``config`` names a YAML file (same as ``SCANFLOW_CONFIG``)."""
    global _config_override
    _config_override = str(config) if config is not None else None
    try:
        return Settings(**overrides)
    except Exception:
        _config_override = None
        raise
