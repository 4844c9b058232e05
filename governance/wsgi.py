"""The web server's entry point (gunicorn governance.wsgi).

Once Django and every view are loaded, their objects are frozen out of the cyclic garbage collector
(gc.freeze): they live as long as the process, and a full collection that walked them all paused a
worker for tens of milliseconds, every few thousand requests, in the middle of a request. Frozen,
a collection walks only what requests made since (docs/benchmarks.md, "Garbage collection").
"""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # every URLconf and view, now rather than on the first request
gc.freeze()
