"""The public API of mlway.bench.simserver, which the CLI, the load tests and the benchmarks import."""

import mlway.bench.simserver as simserver


def test_public_names_are_pinned() -> None:
    assert sorted(simserver.__all__) == [
        "CHAT_TOKENS_PER_MESSAGE",
        "FAILURE_KINDS",
        "FailureKind",
        "SimServerConfig",
        "build_app",
        "run_sim_server",
        "serve_sim",
        "spawn_sim_server",
        "validate_config",
    ]
    assert all(hasattr(simserver, name) for name in simserver.__all__)
