"""``python -m mlway.bench.simserver``: the process ``spawn_sim_server`` starts.

Prints exactly one line on stdout, ``mlway-sim-server ready <base URL>``, once it listens; logs go
to stderr. ``--config-json -`` reads the config from stdin.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from mlway.bench.simserver.config import validate_config
from mlway.bench.simserver.server import READY_PREFIX, run_sim_server
from mlway.core.errors import ConfigError, MlwayError
from mlway.core.logging import configure_logging


def _ready(url: str) -> None:
    print(READY_PREFIX + url, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlway.bench.simserver", description=__doc__)
    parser.add_argument("--config-json", default="{}", help="SimServerConfig as JSON, or - for stdin")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    raw = sys.stdin.read() if args.config_json == "-" else args.config_json
    try:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"--config-json is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("--config-json must be a JSON object of SimServerConfig fields")
        run_sim_server(validate_config(data), args.host, args.port, on_ready=_ready)
    except MlwayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
