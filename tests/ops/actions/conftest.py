import pytest


@pytest.fixture
def no_enqueue(monkeypatch):
    """Jobs made in these tests are run by calling the runner, not by a worker: record the sends."""
    from ops.tasks import actions

    sent: list[int] = []
    monkeypatch.setattr(actions.job_run, "delay", lambda job_id: sent.append(job_id))
    return sent
