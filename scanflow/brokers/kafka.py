"""Real Apache Kafka, KRaft single node (broker and controller in one JVM).

The broker jars come from Maven Central through the pinned manifest
``docker/kafka-broker/pom.xml``; :func:`ensure_kafka_jars` resolves it once
into ``$SCANFLOW_KAFKA_HOME/kafka-<version>/libs`` (default
``~/.cache/scanflow/kafka``). The broker then runs as::

    java -Xmx512m -cp 'libs/*' kafka.Kafka <data_dir>/server.properties

with its log directories, ``broker.pid`` and ``broker.log`` under ``data_dir``.
Data survives restarts (storage is formatted once, with a cluster id kept in
``data_dir/cluster.id``).

Prefetch the jars (CI does) with ``python -m scanflow.brokers.kafka fetch``.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import ClassVar

from scanflow.brokers.base import HOST, BrokerError, ManagedBroker

KAFKA_VERSION = "3.9.1"
#: Overrides the jar cache (default ``~/.cache/scanflow/kafka``).
KAFKA_HOME_ENV = "SCANFLOW_KAFKA_HOME"
#: Overrides the location of the pinned Maven manifest.
KAFKA_POM_ENV = "SCANFLOW_KAFKA_POM"
#: Marker written after a complete fetch; its presence means the libs dir is usable.
_COMPLETE = ".complete"
#: Jars that must be present for the broker and the storage formatter to run.
_REQUIRED_JARS = (
    f"kafka_2.13-{KAFKA_VERSION}.jar",
    f"kafka-clients-{KAFKA_VERSION}.jar",
    "slf4j-reload4j-",
)
_MIN_JAVA = 11
_JAVA_HINT = (
    "Apache Kafka needs Java 17 (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
)
_MAVEN_HINT = "fetching the Kafka jars needs Apache Maven (apt-get install maven) and Java 17"

#: Broker settings beyond the KRaft basics. Small internal-topic partition counts
#: keep the first consumer group and transaction fast on two cores; the cleaner and
#: retention checks run often so compaction/retention tests do not wait minutes.
DEFAULT_PROPERTIES: dict[str, str] = {
    # Same as the embedded broker and the official image: clients that forget to
    # create a topic still work, but get num.partitions (1) partitions, so a
    # missing explicit create shows up as a wrong partition count, not a hang.
    "auto.create.topics.enable": "true",
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "8",
    "group.initial.rebalance.delay.ms": "0",
    "log.cleaner.backoff.ms": "1000",
    "log.retention.check.interval.ms": "5000",
    "log.segment.delete.delay.ms": "1000",
}

_LOG4J = """\
# Written by scanflow: the broker logs to stdout, which goes to broker.log.
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaConfig=WARN
log4j.logger.org.apache.kafka.clients.admin.AdminClientConfig=WARN
log4j.logger.kafka.log.LogCleaner=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
"""


def kafka_home() -> Path:
    """The jar cache root: ``$SCANFLOW_KAFKA_HOME`` or ``~/.cache/scanflow/kafka``."""
    env = os.environ.get(KAFKA_HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scanflow" / "kafka"


def kafka_libs_dir() -> Path:
    return kafka_home() / f"kafka-{KAFKA_VERSION}" / "libs"


def kafka_pom() -> Path:
    """The pinned manifest: ``$SCANFLOW_KAFKA_POM`` or ``docker/kafka-broker/pom.xml`` of the checkout."""
    env = os.environ.get(KAFKA_POM_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "docker" / "kafka-broker" / "pom.xml"


def java_binary() -> Path:
    """``$JAVA_HOME/bin/java`` or ``java`` on PATH; raises with an install hint when absent."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return Path(java_home) / "bin" / "java"
    found = shutil.which("java")
    if not found:
        raise BrokerError(f"kafka broker: no `java` on PATH and no JAVA_HOME; {_JAVA_HINT}")
    return Path(found)


def java_major_version(java: Path) -> int:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=True
        ).stderr
    except (OSError, subprocess.SubprocessError) as exc:
        raise BrokerError(f"kafka broker: `{java} -version` failed: {exc}; {_JAVA_HINT}") from exc
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        raise BrokerError(f"kafka broker: cannot read the Java version from {out.strip()!r}")
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def check_java() -> Path:
    java = java_binary()
    major = java_major_version(java)
    if major < _MIN_JAVA:
        raise BrokerError(f"kafka broker: {java} is Java {major}; {_JAVA_HINT}")
    return java


def jars_present(libs: Path | None = None) -> bool:
    libs = libs or kafka_libs_dir()
    if not (libs / _COMPLETE).is_file():
        return False
    names = [p.name for p in libs.glob("*.jar")]
    return all(any(n.startswith(req) for n in names) for req in _REQUIRED_JARS)


def missing_prerequisites() -> str | None:
    """Why Apache Kafka cannot be started here, or None when it can (Java, and jars or Maven)."""
    try:
        check_java()
    except BrokerError as exc:
        return str(exc)
    if not jars_present() and not shutil.which("mvn"):
        return f"kafka broker: jars not in {kafka_libs_dir()} and no `mvn` on PATH; {_MAVEN_HINT}"
    return None


def ensure_kafka_jars(quiet: bool = True) -> Path:
    """Make sure the pinned broker jars are in the cache; fetch them with Maven if not.

    Safe to call concurrently from several processes (a file lock serialises the
    fetch) and after an interrupted fetch (jars land in a temporary directory that
    is renamed into place only when complete). Returns the ``libs`` directory.
    """
    libs = kafka_libs_dir()
    if jars_present(libs):
        return libs
    pom = kafka_pom()
    if not pom.is_file():
        raise BrokerError(
            f"kafka broker: the pinned manifest {pom} is missing; run from a scanflow checkout "
            f"or set {KAFKA_POM_ENV} to docker/kafka-broker/pom.xml"
        )
    mvn = shutil.which("mvn")
    if not mvn:
        raise BrokerError(f"kafka broker: jars not in {libs} and no `mvn` on PATH; {_MAVEN_HINT}")
    check_java()
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jars_present(libs):
            return libs
        staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
        cmd = [
            mvn,
            "-B",
            *(["-q"] if quiet else []),
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            out = (proc.stdout + proc.stderr).strip().splitlines()[-30:]
            raise BrokerError(
                f"kafka broker: `mvn dependency:copy-dependencies` on {pom} failed "
                f"(exit {proc.returncode}); Maven Central must be reachable:\n" + "\n".join(out)
            )
        jars = sorted(p.name for p in staging.glob("*.jar"))
        (staging / _COMPLETE).write_text(
            f"kafka {KAFKA_VERSION} fetched in {time.perf_counter() - t0:.1f}s\n"
            + "\n".join(jars)
            + "\n"
        )
        if libs.exists():
            shutil.rmtree(libs)
        os.replace(staging, libs)
    if not jars_present(libs):
        raise BrokerError(f"kafka broker: fetched jars in {libs} lack one of {_REQUIRED_JARS}")
    return libs


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as Uuid.randomUuid)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka's own generator avoids ids that look like flags
            return cid


class KafkaBroker(ManagedBroker):
    """Apache Kafka in KRaft combined mode on 127.0.0.1:``port`` (controller on ``controller_port``)."""

    engine: ClassVar[str] = "kafka"
    process_marker: ClassVar[str] = "kafka.Kafka"
    default_ready_timeout: ClassVar[float] = 120.0
    default_stop_grace: ClassVar[float] = 20.0

    def __init__(
        self,
        data_dir: str | Path,
        port: int,
        controller_port: int | None = None,
        heap: str = "512m",
        properties: dict[str, str] | None = None,
        *,
        die_with: int | None = None,
    ) -> None:
        super().__init__(data_dir, port, die_with=die_with)
        self.controller_port = controller_port if controller_port is not None else port + 1
        if not 0 < self.controller_port < 65536 or self.controller_port == port:
            raise BrokerError(
                f"kafka broker: bad controller port {self.controller_port} for port {port}"
            )
        self.heap = heap
        self.properties = {**DEFAULT_PROPERTIES, **(properties or {})}

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.data_dir / "log4j.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kafka-logs"

    def required_ports(self) -> list[int]:
        return [self.port, self.controller_port]

    def server_properties(self) -> dict[str, str]:
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dirs),
            **self.properties,
        }

    def _java_options(self, libs: Path) -> list[str]:
        return [
            f"-Dlog4j.configuration={self.log4j_file.as_uri()}",
            "-Djava.awt.headless=true",
            "-cp",
            str(libs / "*"),
        ]

    def cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if path.is_file():
            return path.read_text().strip()
        cid = new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def prepare(self) -> None:
        java = check_java()
        libs = ensure_kafka_jars()
        lines = [f"# Written by scanflow for {self.bootstrap}; rewritten on every start."]
        lines += [f"{k}={v}" for k, v in self.server_properties().items()]
        self.config_file.write_text("\n".join(lines) + "\n")
        self.log4j_file.write_text(_LOG4J)
        # Format once; --ignore-formatted makes a second start a no-op.
        cmd = [
            str(java),
            *self._java_options(libs),
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(self.config_file),
            "--cluster-id",
            self.cluster_id(),
            "--ignore-formatted",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        with self.log_file.open("a") as log:
            log.write(
                f"\n=== scanflow: storage format: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
            )
        if proc.returncode != 0:
            raise BrokerError(
                f"kafka broker: formatting {self.log_dirs} failed (exit {proc.returncode}):\n"
                + "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            )

    def command(self) -> list[str]:
        return [
            str(java_binary()),
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            *self._java_options(kafka_libs_dir()),
            "kafka.Kafka",
            str(self.config_file),
        ]


def main(argv: list[str] | None = None) -> int:
    """``python -m scanflow.brokers.kafka fetch``: prefetch the pinned jars (for CI)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["fetch"]:
        print("usage: python -m scanflow.brokers.kafka fetch", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    was_present = jars_present()
    try:
        libs = ensure_kafka_jars(quiet=True)
    except BrokerError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    took = time.perf_counter() - t0
    note = "already present" if was_present else f"fetched in {took:.1f}s"
    print(
        f"Apache Kafka {KAFKA_VERSION} jars {note}: {libs} ({len(list(libs.glob('*.jar')))} jars)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
