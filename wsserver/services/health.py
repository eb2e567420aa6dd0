"""Readiness: the database answers, the avatar folder is writable, the disk is above its reserve (writes are taken)."""
import os

from flask import current_app

from ..storage.db import database_answers
from ..storage.disk import has_room, reserve_bytes
from ..storage.avatar_files import avatar_folder


def readiness():
    """{check: ok?} for every dependency of a healthy instance."""
    folder = avatar_folder()
    return {
        "database": database_answers(),
        "avatars": os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK),
        "storage": has_room(current_app.config["INSTANCE_PATH"], reserve_bytes(current_app.config)),
    }
