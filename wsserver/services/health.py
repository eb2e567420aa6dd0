"""Readiness: the database answers and the avatar folder is writable."""
import os

from ..db import database_answers
from .avatars import avatar_folder


def readiness():
    """{check: ok?} for every dependency of a healthy instance."""
    folder = avatar_folder()
    return {
        "database": database_answers(),
        "avatars": os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK),
    }
