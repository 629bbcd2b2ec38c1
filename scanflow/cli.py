"""The ``scanflow`` command line. Every command has ``--help``.

Settings come from ``SCANFLOW_*`` environment variables and an optional YAML file
(``--config`` or ``SCANFLOW_CONFIG``); see the README.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console

from scanflow.settings import Settings, load_settings

app = typer.Typer(help="scanflow: event-driven crypto market scanner on Kafka.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_show_locals=False)
topics_app = typer.Typer(help="Create and list scanflow's Kafka topics.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(bench_app, name="bench")
console = Console()
_state: dict[str, Settings] = {}


def settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = load_settings()
    return _state["settings"]


@app.callback()
def _main(config: Path | None = typer.Option(None, "--config", help="YAML settings file (same as SCANFLOW_CONFIG)."),
          log_level: str = typer.Option("", "--log-level", help="DEBUG, INFO, WARNING (default from settings).")) -> None:
    overrides = {"log_level": log_level.upper()} if log_level else {}
    _state["settings"] = load_settings(config, **overrides)
    logging.basicConfig(level=_state["settings"].log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@topics_app.command("create")
def topics_create(partitions: int = typer.Option(0, help="Partitions per keyed topic (default from settings).")) -> None:
    """Create every topic (idempotent: existing topics are left alone)."""
    from streams.kafka import BrokerUnavailable, create_topics
    from streams.topics import topic_specs

    s = settings()
    try:
        result = asyncio.run(create_topics(s.bootstrap, topic_specs(list(s.detectors), partitions or s.partitions)))
    except BrokerUnavailable as exc:
        _fail(str(exc))
    for name, state in result.items():
        console.print(f"{name:28s} {state}")


@topics_app.command("list")
def topics_list() -> None:
    """Show the topics scanflow uses: partitions, key and cleanup policy."""
    from streams.topics import topic_specs

    s = settings()
    for spec in topic_specs(list(s.detectors), s.partitions):
        console.print(f"{spec.name:28s} partitions={spec.partitions:<3d} key={spec.key:24s} cleanup={spec.cleanup_policy}")


@app.command()
def up(source: str = typer.Option("demo", help="demo, replay:PATH or none."),
       api_port: int = typer.Option(0, "--api-port", help="API port (default from settings, 8000)."),
       seconds: float = typer.Option(0, help="Stop after this many seconds (0 = run until Ctrl-C).")) -> None:
    """Run the whole pipeline: broker (unless SCANFLOW_BOOTSTRAP_SERVERS is set), topics,
    source, worker, sink and API, supervised, with a live status table."""
    from scanflow.supervisor import run_up

    s = settings()
    if api_port:
        s = s.model_copy(update={"api_port": api_port})
    try:
        code = run_up(s, source, console=console, max_seconds=seconds or None)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run the Faust detector worker (consumes candles, emits signals)."""
    from streams.worker import run_worker

    run_worker(settings())


@app.command()
def sink() -> None:
    """Run the lake sink (topics -> hive-partitioned parquet)."""
    from sinks.runner import main as sink_main

    sink_main(settings())


@app.command()
def api() -> None:
    """Serve the HTTP API and dashboard."""
    from api.app import serve

    serve(settings())


@app.command()
def demo(symbols: int = typer.Option(0, help="Number of symbols (default from settings)."),
         speed: float = typer.Option(0, help="Simulated minutes per real minute (default 60)."),
         history: int = typer.Option(-1, help="Minutes of back history published first."),
         minutes: int = typer.Option(0, help="Stop after this many live minutes (0 = forever)."),
         seed: int = typer.Option(-1, help="Random seed (default from settings).")) -> None:
    """Publish the seeded synthetic demo market to md.candles.1m."""
    from connectors.demo import run_demo

    s = settings()
    n = asyncio.run(run_demo(s.bootstrap, n_symbols=symbols or s.demo_symbols, seed=s.demo_seed if seed < 0 else seed,
                             speed=speed or s.demo_speed,
                             history_minutes=s.demo_history_minutes if history < 0 else history,
                             max_minutes=minutes or None,
                             on_minute=lambda m, total: console.print(f"demo: minute {m}, {total} candles published")))
    console.print(f"demo: {n} candles published")


@app.command()
def replay(path: Path = typer.Argument(..., help="Candle file: CSV, parquet, feather or JSON (ccxt order), optionally .gz."),
           exchange: str | None = typer.Option(None, help="Exchange name (default: inferred from the path, else 'replay')."),
           market: str = typer.Option("spot", help="Market: spot, usdm, linear, swap, ..."),
           symbol: str | None = typer.Option(None, help="Unified symbol BASE/QUOTE (default: inferred)."),
           tf: str | None = typer.Option(None, help="Timeframe (default: the dominant step between rows)."),
           speed: float = typer.Option(0, help="Pace: N x real time (0 = as fast as the broker accepts).")) -> None:
    """Publish candles from a file; replaying the same file twice publishes the same records."""
    from rich.progress import Progress

    from connectors.replay import replay as do_replay
    from streams.kafka import BrokerUnavailable

    s = settings()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"replay {path.name}", total=None)
            report = asyncio.run(do_replay(path, s.bootstrap, exchange=exchange, market=market, symbol=symbol,
                                           tf=tf, speed=speed or None,
                                           progress=lambda done, total: progress.update(task, completed=done, total=total)))
    except (ValueError, BrokerUnavailable) as exc:
        _fail(str(exc))
    p = report.plan
    console.print(f"replayed {p.path}: {p.exchange}:{p.market}:{p.symbol} {p.tf}, {report.published} candles "
                  f"published, {report.deadlettered} dead-lettered {report.reasons or ''} "
                  f"in {report.seconds:.2f}s ({report.rate:,.0f} candles/s)")


@app.command()
def sql(query: str = typer.Argument(..., help="SQL over the lake views: candles, signals, deadletter."),
        fmt: str = typer.Option("table", "--format", help="table, csv or json.")) -> None:
    """Run SQL over the lake with DuckDB."""
    from sinks.catalog import query as run_query

    df = run_query(settings().lake_dir, query)
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(df.to_json(orient="records") + "\n")
    else:
        console.print(df.to_string(index=False) if len(df) else "(no rows)")


@app.command()
def schemas(out: Path = typer.Option(Path("docs/schemas"), help="Directory for the JSON Schema files.")) -> None:
    """Write a JSON Schema file per record (for non-Python consumers)."""
    from streams.schemas import write_schemas

    for path in write_schemas(out):
        console.print(f"wrote {path}")


@bench_app.command("detectors")
def bench_detectors() -> None:
    """Detector streaming/batch throughput versus the pandas-recompute baseline."""
    from bench.detectors import main as bench_main

    bench_main([])


@bench_app.command("lake")
def bench_lake() -> None:
    """Lake ingest rows/s."""
    from bench.lake import main as bench_main

    bench_main([])


@bench_app.command("pipeline")
def bench_pipeline(engine: str = typer.Option("embedded", help="embedded or kafka."),
                   candles: int = typer.Option(50_000, help="Candles to push through the pipeline.")) -> None:
    """End-to-end candles/s (replay -> worker -> signals) on a fresh broker."""
    from bench.pipeline import main as bench_main

    bench_main(["--engine", engine, "--candles", str(candles)])


@bench_app.command("connectors")
def bench_connectors() -> None:
    """Connector trade frames/s decoded and published, close-to-broker latency, memory per 1,000 symbols."""
    from bench.connectors import main as bench_main

    bench_main([])


def _mount_optional() -> None:
    """Commands contributed by other packages, mounted when they are installed."""
    try:
        from scanflow.brokers.cli import app as broker_app

        app.add_typer(broker_app, name="broker", help="Start, stop and inspect a broker (embedded or Apache Kafka).")
    except ImportError as exc:  # pragma: no cover - only in a broken install
        logging.getLogger("scanflow.cli").debug("broker commands unavailable: %s", exc)
    try:
        from connectors.cli import register

        register(app)
    except ImportError as exc:  # pragma: no cover
        logging.getLogger("scanflow.cli").debug("connector commands unavailable: %s", exc)
    try:
        from bench.cli import register as register_bench

        register_bench(bench_app)
    except ImportError:
        pass


_mount_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

__all__ = ["app", "main"]
