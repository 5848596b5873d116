"""The development servers' free ports: parallel test processes never pick the same one.

Each of the suite's parallel processes (pytest-xdist) starts its own servers on ports
picked by `devservers.free_port`, and some tests pick one that nothing listens on; a port
picked by two processes at once would put one process's tests on the other's server."""

from __future__ import annotations

import devservers  # scripts/, on the path (tests/conftest.py)
import pytest


def test_alone_any_free_port_is_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    ports = [devservers.free_port() for _ in range(20)]
    assert not any(devservers.port_in_use("127.0.0.1", port) for port in ports)
    assert len({port % 3 for port in ports}) > 1  # not restricted to one share


@pytest.mark.parametrize("worker", [0, 1, 2])
def test_a_parallel_test_process_picks_only_its_own_share(
    monkeypatch: pytest.MonkeyPatch, worker: int
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    probed: list[int] = []
    in_use = devservers.port_in_use

    def probe(host: str, port: int) -> bool:
        probed.append(port)
        return in_use(host, port)

    monkeypatch.setattr(devservers, "port_in_use", probe)
    ports = [devservers.free_port() for _ in range(20)]
    # Not even probed (a transient bind) outside its share: another process's port may be
    # picked and not bound yet.
    assert {port % 3 for port in probed} == {worker}
    assert all(port in devservers.SHARED_PORTS for port in probed)  # below the ephemeral ones
    assert len(set(ports)) == len(ports)  # none picked twice before it could be bound
    assert not any(in_use("127.0.0.1", port) for port in ports)


@pytest.mark.parametrize(("worker", "count"), [("", "2"), ("gw1", ""), ("gw1", "1"), ("x", "2")])
def test_without_a_usable_worker_name_and_count_every_port_is_a_candidate(
    monkeypatch: pytest.MonkeyPatch, worker: str, count: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", count)
    assert devservers._port_share() == (0, 1)
