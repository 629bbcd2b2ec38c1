"""docker/compose.yml and docker/Dockerfile: structure checks (no Docker engine needed)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from scanflow.brokers.kafka import KAFKA_VERSION

pytestmark = pytest.mark.unit

DOCKER = Path(__file__).resolve().parents[2] / "docker"
SCANFLOW_SERVICES = {"topics", "worker", "sink", "api", "demo"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yml").read_text())


def test_kafka_is_the_official_image_in_kraft_single_node(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}", "image tag must match the pinned jars"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    node = str(env["KAFKA_NODE_ID"])
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@kafka:9093"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert str(env[name]) == "1", f"{name} must be 1 on a single node"
    # The image formats storage with this id: it must decode to a 16-byte UUID.
    cid = env["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cid + "==")) == 16
    assert "healthcheck" in kafka and "kafka-broker-api-versions" in " ".join(
        kafka["healthcheck"]["test"]
    )
    assert kafka["volumes"][0].split(":")[0] in compose["volumes"]


def test_scanflow_services_build_from_the_dockerfile_and_wait_for_kafka(compose: dict) -> None:
    services = compose["services"]
    assert SCANFLOW_SERVICES <= set(services)
    for name in SCANFLOW_SERVICES:
        svc = services[name]
        assert svc["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert svc["environment"]["SCANFLOW_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy", name
        assert isinstance(svc["command"], list) and svc["command"], name
        for volume in svc.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], f"{name}: undeclared volume {volume}"
    for name in SCANFLOW_SERVICES - {"topics"}:
        assert (
            services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        ), name
    assert services["topics"]["command"] == ["topics", "create"]
    assert services["topics"]["restart"] == "no"
    assert services["api"]["environment"]["SCANFLOW_API_HOST"] == "0.0.0.0"
    assert services["sink"]["volumes"] == ["lake:/data/lake"]
    assert "lake:/data/lake:ro" in services["api"]["volumes"]
    # Every depends_on names a service that exists.
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_service_commands_are_cli_commands(compose: dict) -> None:
    from typer.main import get_command

    from scanflow.cli import app

    cli = get_command(app)
    for name in SCANFLOW_SERVICES:
        argv = compose["services"][name]["command"]
        group = cli
        for word in argv:
            sub = getattr(group, "commands", {}).get(word)
            if sub is None:
                break
            group = sub
        assert group is not cli, f"service {name}: `scanflow {' '.join(argv)}` is not a CLI command"


def test_dockerfile_installs_the_package_with_scanflow_entrypoint() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    assert 'ENTRYPOINT ["scanflow"]' in text
    # Every package the distribution declares is copied into the image.
    import tomllib

    pyproject = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), (
            f"Dockerfile does not copy {package}/"
        )


def test_docker_compose_config_parses_when_the_client_exists() -> None:
    docker = shutil.which("docker")
    has_compose = (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if not has_compose:
        # No compose plugin here: the structural tests above are the check.
        return
    proc = subprocess.run(
        [docker, "compose", "-f", str(DOCKER / "compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
