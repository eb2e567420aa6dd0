"""Readiness: the database answers, the avatar folder is writable, the disk is above its reserve (writes
are taken), and what the app registered at start-up answers (the rate-limit counters: `limits`,
http/ratelimit.py)."""
import os

from flask import current_app

from ..storage.db import database_answers
from ..storage.disk import has_room, reserve_bytes
from ..storage.avatar_files import avatar_folder

# app.extensions key: {check name: callable answering True when ready}, registered with register_check.
REGISTERED_CHECKS = "wsserver-readiness-checks"


def register_check(app, name, check):
    """Add `check()` (True when ready) to this app's readiness under `name`."""
    app.extensions.setdefault(REGISTERED_CHECKS, {})[name] = check


def readiness():
    """{check: ok?} for every dependency of a healthy instance."""
    folder = avatar_folder()
    checks = {
        "database": database_answers(),
        "avatars": os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK),
        "storage": has_room(current_app.config["INSTANCE_PATH"], reserve_bytes(current_app.config)),
    }
    for name, check in current_app.extensions.get(REGISTERED_CHECKS, {}).items():
        checks[name] = bool(check())
    return checks
