"""What a job page shows besides the common lifecycle: one panel per job kind, registered by the
view module that owns that kind's pages (a redrive's per-message states, a rollback's "did it
help"). The job page includes the panel's template with the context its function returns; a
kind without a panel shows the common part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ops.models import Job


@dataclass(frozen=True)
class JobPanel:
    template: str
    context: Callable[[Job], dict]


_PANELS: dict[str, JobPanel] = {}


def job_panel_register(*, kind: str, template: str, context: Callable[[Job], dict]) -> None:
    _PANELS[kind] = JobPanel(template=template, context=context)


def job_panel(*, job: Job) -> tuple[str, dict] | None:
    panel = _PANELS.get(job.kind)
    if panel is None:
        return None
    return panel.template, panel.context(job)
