"""Process-wide sandbox state that lives next to moto's backends (ledger, faults, scenario)."""

from __future__ import annotations

import threading
import time
from typing import Any

from .fills.faults import FaultRegistry
from .ledger import Ledger

LEDGER = Ledger()
FAULTS = FaultRegistry()
ESTATE: dict[str, Any] | None = None

SCENARIOS = ("steady", "deploy-regression", "throttling", "dlq-flood", "cold-start-storm", "timeouts",
             "stream-lag")

_lock = threading.Lock()
_scenario: dict[str, Any] = {"name": "steady", "function": None, "since": time.time(), "generation": 0}


def set_scenario(name: str, function: str | None = None, **details: Any) -> dict[str, Any]:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    with _lock:
        generation = _scenario["generation"] + 1
        _scenario.clear()
        _scenario.update(details)
        _scenario.update(name=name, function=function, since=time.time(), generation=generation)
        return dict(_scenario)


def scenario_json() -> dict[str, Any]:
    with _lock:
        return dict(_scenario)


def reset() -> None:
    global ESTATE
    LEDGER.clear()
    FAULTS.clear()
    ESTATE = None
    with _lock:
        generation = _scenario["generation"] + 1
        _scenario.clear()
        _scenario.update(name="steady", function=None, since=time.time(), generation=generation)
