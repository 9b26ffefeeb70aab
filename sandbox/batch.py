"""One slice of generated traffic, grouped the way the sandbox ingests it (POST /_sandbox/ingest):
metrics per scope, log events per group and stream, trace documents, SQS messages and metrics,
and the ledger rows that are the ground truth of what was generated."""

from __future__ import annotations

from typing import Any


class Batch:
    def __init__(self) -> None:
        self.metrics: dict[str, list] = {}
        self.logs: dict[str, dict[str, dict[str, list]]] = {}
        self.traces: dict[str, list] = {}
        self.sqs: dict[str, dict[str, list]] = {}
        self.sqs_metrics: dict[str, list] = {}
        self.ledger: list[dict[str, Any]] = []

    def metric(self, scope: str, ns: str, name: str, dims: dict[str, str], t: int, kind: str, payload: Any) -> None:
        self.metrics.setdefault(scope, []).append([ns, name, dims, t, kind, payload])

    def finalize(self) -> "Batch":
        for groups in self.logs.values():
            for streams in groups.values():
                for events in streams.values():
                    events.sort(key=lambda e: e[0])
        return self

    def to_json(self) -> dict[str, Any]:
        self.finalize()
        return {"metrics": self.metrics, "logs": self.logs, "traces": self.traces, "sqs": self.sqs,
                "sqs_metrics": self.sqs_metrics, "ledger": self.ledger}

    def __len__(self) -> int:
        return sum(len(v) for v in self.metrics.values()) + len(self.ledger)
