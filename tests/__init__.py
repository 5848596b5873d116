"""Parley's tests.

Compiled modules are cached (`__pycache__`, ignored by git) even when the environment
sets `PYTHONDONTWRITEBYTECODE` (the machines here do): the suite starts many Python
processes (the Mongo-wire server, Celery workers, beat, Flower, the CLI), each importing
the app and its dependencies, and compiling them all from source again took each process
seconds of CPU. Set here, before the first conftest imports the app, so that this process
and every process the tests start share one cache.
"""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
