"""Auto-assignment's choice: round robin in id order after the last one chosen, least busy
with ties in turn, capacity, and nobody when everyone is full or the rule is off."""

from __future__ import annotations

from api.domain.messaging.inbox_settings import AutoAssign
from api.domain.messaging.routing import choose_agent, rotation

RR, LB, OFF = AutoAssign.ROUND_ROBIN, AutoAssign.LEAST_BUSY, AutoAssign.OFF


def test_rotation_starts_after_the_last_and_wraps() -> None:
    assert rotation(["c", "a", "b"], None) == ["a", "b", "c"]
    assert rotation(["c", "a", "b"], "a") == ["b", "c", "a"]
    assert rotation(["c", "a", "b"], "c") == ["a", "b", "c"]
    assert rotation(["a", "c"], "b") == ["c", "a"]  # the last one went offline


def test_round_robin_turns_and_skips_the_full() -> None:
    turns, last = [], None
    for _ in range(5):
        last = choose_agent(RR, ["a", "b", "c"], {}, 10, last)
        turns.append(last)
    assert turns == ["a", "b", "c", "a", "b"]
    assert choose_agent(RR, ["a", "b", "c"], {"c": 2}, 2, "b") == "a"
    assert choose_agent(RR, ["a", "b"], {"a": 2, "b": 3}, 2, None) is None


def test_least_busy_fewest_then_in_turn() -> None:
    assert choose_agent(LB, ["a", "b", "c"], {"a": 3, "b": 1, "c": 2}, 5, None) == "b"
    assert choose_agent(LB, ["a", "b", "c"], {"a": 1, "b": 1, "c": 1}, 5, "a") == "b"
    assert choose_agent(LB, ["a", "b"], {"a": 0, "b": 5}, 5, "a") == "a"
    assert choose_agent(LB, ["a", "b"], {"a": 5, "b": 5}, 5, None) is None


def test_off_or_nobody() -> None:
    assert choose_agent(OFF, ["a"], {}, 10, None) is None
    assert choose_agent(RR, [], {}, 10, None) is None
