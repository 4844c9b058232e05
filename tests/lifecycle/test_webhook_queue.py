"""Webhook deliveries travel on a queue of their own, so a slow receiver never delays a generation."""

from pathlib import Path

import pytest
from kombu import Connection

from governance.celery import app
from governance.generations.tasks import advance_generation, sweep_stalled_generations
from governance.infra import runner
from governance.lifecycle.tasks import deliver_webhook, retry_due_webhook_deliveries


@pytest.fixture
def broker():
    """An in-memory broker with the configured queues declared, as a worker declares them.

    A kombu connection of its own: the app's (`connection_for_write`) takes the configured transport whatever the
    URL, and the configured filesystem broker is shared with any live worker the suite runs, which takes messages.
    """
    with Connection("memory://") as connection:
        channel = connection.default_channel
        queues = {name: queue(channel) for name, queue in app.amqp.queues.items()}
        for queue in queues.values():
            queue.declare()
            queue.purge()
        yield connection, queues
        for queue in queues.values():
            queue.purge()


def tasks_waiting_in(queue) -> list[str]:
    """The names of the tasks waiting in `queue`, taking them off it."""
    tasks = []
    while (message := queue.get(no_ack=True)) is not None:
        tasks.append(message.headers["task"])
    return tasks


def test_webhook_deliveries_and_generation_steps_wait_in_different_queues(broker):
    connection, queues = broker

    deliver_webhook.apply_async(args=[1], connection=connection)
    retry_due_webhook_deliveries.apply_async(connection=connection)
    advance_generation.apply_async(args=[1], connection=connection)
    sweep_stalled_generations.apply_async(connection=connection)

    assert sorted(tasks_waiting_in(queues["webhooks"])) == [deliver_webhook.name, retry_due_webhook_deliveries.name]
    assert sorted(tasks_waiting_in(queues["celery"])) == [advance_generation.name, sweep_stalled_generations.name]


def test_a_worker_started_without_queues_named_takes_both():
    assert set(app.amqp.queues.consume_from) == {"celery", "webhooks"}


def test_make_run_delivers_webhooks_on_a_worker_of_their_own(tmp_path: Path):
    commands = runner.commands("8000", tmp_path)

    def queues_of(command: list[str]) -> str:
        return command[command.index("--queues") + 1]

    assert queues_of(commands["worker"]) == "celery"
    assert queues_of(commands["webhooks"]) == "webhooks"
    assert "--beat" in commands["worker"] and "--beat" not in commands["webhooks"]
