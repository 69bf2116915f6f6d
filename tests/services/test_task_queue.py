"""BackgroundTaskQueue and QueuedHostedService: bounded, drained at stop, nothing lost."""

from __future__ import annotations

import logging
import queue as queue_module
import threading

import pytest

import threadhost as th
from tests._services import WAIT, make_builder
from threadhost.testing import FakeClock


class Job:
    """A work item with a readable repr that records its runs."""

    def __init__(self, name: str, done: list[str], seconds: float = 0.0,
                 fail: bool = False) -> None:
        self.name, self.done, self.seconds, self.fail = name, done, seconds, fail

    def __call__(self, token: th.CancellationToken) -> None:
        if self.seconds:
            token.wait(self.seconds)
        if self.fail:
            raise ValueError(f"{self.name} failed")
        self.done.append(self.name)

    def __repr__(self) -> str:
        return f"Job({self.name})"


def queued_host(queue: th.BackgroundTaskQueue, clock: th.Clock | None = None,
                workers: int = 1, **options: object) -> th.Host:
    builder = make_builder(**options)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    if workers == 1:
        builder.services.add_hosted_service(th.QueuedHostedService)  # autowired
    else:
        builder.services.add_hosted_service(th.QueuedHostedService(queue, workers))
    if clock is not None:
        builder.services.add_instance(th.Clock, clock)
    return builder.build()


def test_enqueue_blocks_when_full_and_raises_queue_full_after_timeout() -> None:
    clock = FakeClock()
    queue = th.BackgroundTaskQueue(2, clock=clock)
    done: list[str] = []
    queue.enqueue(Job("a", done))
    queue.enqueue(Job("b", done))
    errors: list[BaseException] = []

    def producer() -> None:
        try:
            queue.enqueue(Job("c", done), timeout=5)
        except th.QueueFullError as exc:
            errors.append(exc)

    thread = threading.Thread(target=producer)
    thread.start()
    clock.advance(4.9)
    assert thread.is_alive() and errors == []  # still blocked: the queue is full
    clock.advance(0.1)
    thread.join(WAIT)
    assert [str(e) for e in errors] == [
        "BackgroundTaskQueue is full (2 items) and no room was made within 5s; Job(c) was not "
        "added"]
    assert isinstance(errors[0], queue_module.Full) and len(queue) == 2


def test_blocked_enqueue_proceeds_when_a_worker_makes_room() -> None:
    queue = th.BackgroundTaskQueue(1)
    done: list[str] = []
    release = threading.Event()
    queue.enqueue(lambda token: release.wait(WAIT))
    host = queued_host(queue)
    host.start()
    queue.enqueue(Job("second", done))  # the worker holds the first; room for one
    producer = threading.Thread(target=queue.enqueue, args=(Job("third", done),))
    producer.start()
    release.set()
    producer.join(WAIT)
    report = host.stop()
    host.close()
    assert report.clean and done == ["second", "third"]


def test_failing_item_is_logged_and_the_worker_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    queue = th.BackgroundTaskQueue(10)
    done: list[str] = []
    for job in (Job("a", done), Job("bad", done, fail=True), Job("c", done)):
        queue.enqueue(job)
    host = queued_host(queue)
    with caplog.at_level(logging.ERROR, logger="threadhost.services"):
        host.start()
        report = host.stop()
        host.close()
    assert done == ["a", "c"] and report.clean
    [record] = [r for r in caplog.records if r.name == "threadhost.services"]
    assert record.getMessage() == "QueuedHostedService: work item Job(bad) raised; the worker " \
                                  "goes on."


def test_queued_work_is_drained_at_stop() -> None:
    queue = th.BackgroundTaskQueue(100)
    done: list[str] = []
    for i in range(50):
        queue.enqueue(Job(str(i), done))
    host = queued_host(queue, workers=4)
    host.start()
    report = host.stop()
    host.close()
    assert sorted(done, key=int) == [str(i) for i in range(50)]
    assert report.clean and report.unfinished_work == ()


def test_work_left_at_the_deadline_is_logged_and_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(autojump=True)
    queue = th.BackgroundTaskQueue(20)
    done: list[str] = []
    jobs = [Job(str(i), done, seconds=0.2) for i in range(20)]
    for job in jobs:
        queue.enqueue(job)
    host = queued_host(queue, clock, shutdown_timeout=0.5)
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lifetime.stop_application)
    with caplog.at_level(logging.WARNING, logger="threadhost.services"):
        host.start()
        report = host.stop()
        host.close()
    # Jobs 0 and 1 finish at 0.2 and 0.4; job 2 is running at 0.5 (its token is cancelled,
    # so it ends at once); the other 17 never start.
    assert done == ["0", "1", "2"]
    assert [w.item for w in report.unfinished_work] == jobs[3:]
    assert report.exit_code == 3 and report.stragglers == ()
    [record] = [r for r in caplog.records if "were not started" in r.getMessage()]
    assert record.getMessage().startswith(
        "QueuedHostedService: 17 queued work item(s) were not started before the shutdown "
        "deadline: Job(3), Job(4),")


def test_item_still_running_at_the_deadline_makes_its_worker_a_straggler() -> None:
    queue = th.BackgroundTaskQueue(5)
    release, entered = threading.Event(), threading.Event()
    queue.enqueue(lambda token: (entered.set(), release.wait(WAIT * 6)))
    host = queued_host(queue, shutdown_timeout=0.2)
    host.start()
    assert entered.wait(WAIT)
    report = host.stop()
    release.set()
    host.close()
    assert [(s.name, s.thread_name) for s in report.stragglers] == [
        ("QueuedHostedService", "threadhost:QueuedHostedService:0")]
    assert "release.wait" in report.stragglers[0].stack


def test_enqueue_after_the_service_stopped_is_refused() -> None:
    queue = th.BackgroundTaskQueue(5)
    host = queued_host(queue)
    host.start()
    host.stop()
    host.close()
    with pytest.raises(RuntimeError, match=r"the queue's QueuedHostedService has stopped"):
        queue.enqueue(lambda token: None)


class Broken(th.HostedService):
    def start(self, cancellation_token: th.CancellationToken) -> None:
        raise OSError("port 8080 is taken")

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def test_a_queue_whose_service_never_started_refuses_work_and_reports_what_it_held() -> None:
    queue = th.BackgroundTaskQueue(5)
    done: list[str] = []
    queue.enqueue(Job("early", done))  # before the host starts: accepted, it will run ...
    builder = make_builder()
    builder.services.add_hosted_service(Broken)  # ... but the start fails before the queue's
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService)
    host = builder.build()
    with pytest.raises(th.HostStartupError):
        host.start()
    assert host.wait_for_shutdown(WAIT)
    report = host.report
    host.close()
    assert report is not None
    with pytest.raises(RuntimeError, match=r"QueuedHostedService never started \(the host "
                       r"stopped before starting it\), so the work would never run"):
        queue.enqueue(Job("late", done))
    assert [(w.service, repr(w.item)) for w in report.unfinished_work] == [
        ("QueuedHostedService", "Job(early)")]
    assert done == []


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match=r"capacity=0\): expected an int >= 1"):
        th.BackgroundTaskQueue(0)
    with pytest.raises(TypeError, match="needs a callable"):
        th.BackgroundTaskQueue(1).enqueue("not callable")  # type: ignore[arg-type]
