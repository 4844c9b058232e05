import pytest

from governance.celery import app


@pytest.fixture
def eager_tasks():
    """Celery tasks run in the test's process, as soon as they are sent."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False
