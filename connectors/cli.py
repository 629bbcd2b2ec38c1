"""``scanflow connect`` and ``scanflow backfill`` (mounted by ``scanflow.cli``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

import typer

log = logging.getLogger("scanflow.connectors")


def _settings() -> Any:
    try:
        from scanflow.cli import settings

        return settings()
    except ImportError:  # pragma: no cover - used standalone
        from scanflow.settings import load_settings

        return load_settings()


def _split(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def register(app: typer.Typer) -> None:
    """Add ``connect`` and ``backfill`` to the main CLI."""

    @app.command("connect")
    def connect(
        venue: str = typer.Argument(..., help="Venue, e.g. binance-spot, binance-usdm."),
        top: int = typer.Option(0, "--top", help="Stream the N symbols with the highest 24h quote volume (0: all)."),
        quote: str = typer.Option("USDT", "--quote", help="Only markets quoted in this currency ('' for any)."),
        min_quote_volume: float = typer.Option(0.0, "--min-quote-volume", help="Minimum 24h quote volume."),
        symbols: str = typer.Option("", "--symbols", help="Explicit symbols (BTC/USDT,ETH/USDT); skips ranking."),
        allow: str = typer.Option("", "--allow", help="Always include these symbols."),
        deny: str = typer.Option("", "--deny", help="Never include these symbols."),
        channels: str = typer.Option("", "--channels", help="kline,trades,quotes[,funding] (default: the venue's)."),
        follow_control: bool = typer.Option(True, "--follow-control/--no-follow-control",
                                            help="Apply control.subscriptions changes without restart."),
        audit_interval: float = typer.Option(300.0, "--audit-interval", help="Seconds between REST audits (0: off)."),
        stats_interval: float = typer.Option(60.0, "--stats-interval", help="Seconds between stats log lines."),
    ) -> None:
        """Stream closed 1m candles, trades and quotes of one venue to Kafka."""
        from connectors.registry import make_venue, venue_names

        try:
            v = make_venue(venue, channels=tuple(_split(channels)) or None)
        except KeyError:
            typer.echo(f"unknown venue {venue!r}; known: {', '.join(venue_names())}", err=True)
            raise typer.Exit(2) from None
        s = _settings()
        rc = asyncio.run(_connect(v, s.bootstrap, top=top, quote=quote, min_quote_volume=min_quote_volume,
                                  symbols=_split(symbols), allow=_split(allow), deny=_split(deny),
                                  follow_control=follow_control, audit_interval=audit_interval,
                                  stats_interval=stats_interval))
        if rc:
            raise typer.Exit(rc)

    @app.command("backfill")
    def backfill(
        exchange: str = typer.Option(..., "--exchange", help="Venue, e.g. binance-usdm."),
        symbols: str = typer.Option(..., "--symbols", help="BTC/USDT,ETH/USDT"),
        since: str = typer.Option(..., "--since", help="UTC date (2024-01-01) or ms."),
        until: str = typer.Option("", "--until", help="UTC date or ms (default: now)."),
        tf: str = typer.Option("1m", "--tf", help="Timeframe to fetch."),
        publish: bool = typer.Option(False, "--publish", help="Also send the candles to md.candles.1m."),
        lake_dir: Path = typer.Option(None, "--lake-dir", help="Lake directory (default from settings)."),
    ) -> None:
        """Fetch history over REST into the lake; resumable, rate-limited."""
        from connectors.backfill import parse_day
        from connectors.registry import make_venue, venue_names

        try:
            v = make_venue(exchange)
        except KeyError:
            typer.echo(f"unknown venue {exchange!r}; known: {', '.join(venue_names())}", err=True)
            raise typer.Exit(2) from None
        s = _settings()
        try:
            since_ms = parse_day(since)
            until_ms = parse_day(until) if until else None
        except ValueError as exc:
            typer.echo(f"--since/--until: {exc}", err=True)
            raise typer.Exit(2) from None
        asyncio.run(_backfill(v, _split(symbols), since_ms, until_ms, tf, lake_dir or s.lake_dir,
                              s.bootstrap if publish else None))


async def _connect(venue: Any, bootstrap: str, *, top: int, quote: str, min_quote_volume: float,
                   symbols: list[str], allow: list[str], deny: list[str], follow_control: bool,
                   audit_interval: float, stats_interval: float) -> int:
    """Stream until SIGINT/SIGTERM (exit code 0) or until the connector fails, e.g.
    the broker stops taking records (exit code 1, with the reason logged)."""
    from connectors.base import CcxtRest, Connector, ConnectorOptions, KafkaPublisher
    from connectors.base.publish import PublishError
    from connectors.control import SubscriptionFollower
    from connectors.universe import UniverseRules, load_universe
    from streams.kafka import create_topics, wait_for_broker
    from streams.topics import topic_specs

    rest = CcxtRest(venue)
    await wait_for_broker(bootstrap)
    await create_topics(bootstrap, topic_specs())
    if symbols:
        await rest.load_markets()
        chosen = symbols
    else:
        rules = UniverseRules(top=top or None, quote=quote or None, min_quote_volume=min_quote_volume,
                              allow=frozenset(allow), deny=frozenset(deny))
        chosen = await load_universe(rest, rules)
    log.info("%s: streaming %d symbols: %s", venue.name, len(chosen), ", ".join(chosen[:20]))
    publisher = KafkaPublisher(bootstrap)
    await publisher.start()
    connector = Connector(venue, publisher, rest, chosen,
                          options=ConnectorOptions(audit_interval_s=audit_interval or None))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(connector.run(), name="connector")
    tasks = []
    if follow_control:
        tasks.append(asyncio.create_task(SubscriptionFollower(connector).run(bootstrap)))

    async def report() -> None:
        while True:
            await asyncio.sleep(stats_interval)
            log.info("%s: %s", venue.name, connector.stats.snapshot())

    tasks.append(asyncio.create_task(report()))
    stopper = asyncio.create_task(stop.wait())
    failure: BaseException | None = None
    try:
        # until Ctrl-C / SIGTERM, or until the connector fails (e.g. the broker
        # stops taking records): then exit non-zero instead of idling
        await asyncio.wait({stopper, runner}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done() and not runner.cancelled():
            failure = runner.exception()
    finally:
        for t in (*tasks, stopper):
            t.cancel()
        try:
            await connector.stop()  # its final flush reports a publisher failure too
        except PublishError as exc:
            failure = failure or exc
        if not runner.done():
            runner.cancel()
        with contextlib.suppress(PublishError):
            await publisher.stop()
        await rest.close()
        log.info("%s: stopped; %s", venue.name, connector.stats.snapshot())
    if failure is not None:
        log.error("%s: connector failed: %s", venue.name, failure)
        return 1
    return 0


async def _backfill(venue: Any, symbols: list[str], since: int, until: int | None, tf: str, lake_dir: Path,
                    bootstrap: str | None) -> None:
    from rich.progress import Progress

    from connectors.backfill import Backfill
    from connectors.base import CcxtRest, KafkaPublisher

    rest = CcxtRest(venue)
    publisher = None
    if bootstrap is not None:
        from streams.kafka import create_topics
        from streams.topics import topic_specs

        await create_topics(bootstrap, topic_specs())
        publisher = KafkaPublisher(bootstrap)
        await publisher.start()
    try:
        await rest.load_markets()
        job = Backfill(venue, rest, lake_dir, tf=tf, publisher=publisher)
        units = job.units(symbols, since, until if until is not None else job.clock())
        with Progress() as progress:
            bar = progress.add_task(f"{venue.name} {tf}", total=len(units))

            def advance(symbol: str, day: int, rows: int) -> None:
                progress.update(bar, advance=1, description=f"{venue.name} {symbol} {tf}")

            report = await job.run(symbols, since, until, on_unit=advance)
        typer.echo(f"backfill {venue.name}: {report.units_done} day(s) fetched, {report.units_skipped} already complete, "
                   f"{report.candles_written} candles written, {report.candles_published} published, "
                   f"{report.requests} requests, {len(report.rejected)} rejected rows")
        for r in report.rejected[:10]:
            typer.echo(f"  rejected: {r}", err=True)
    finally:
        if publisher is not None:
            await publisher.stop()
        await rest.close()
