"""The web server's entry point loads every view before the first request and keeps the collector off what it loaded."""

import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = (
    "import gc, sys\n"
    "import governance.wsgi\n"
    "print(gc.get_freeze_count(), 'governance.generations.views' in sys.modules)\n"
)


def test_the_wsgi_application_freezes_what_it_loaded_with_every_view_imported():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "governance.settings"}

    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    frozen, views_loaded = result.stdout.split()
    assert int(frozen) > 50_000  # Django, the apps and their views: a full collection no longer walks them
    assert views_loaded == "True"
