"""Avatar files under <instance>/avatars/."""
import os

from flask import current_app

AVATAR_FOLDER = "avatars"


def avatar_folder():
    return os.path.join(current_app.config["INSTANCE_PATH"], AVATAR_FOLDER)


def discard_files(names):
    """Remove avatar files that nothing references any more (after the commit that dropped them)."""
    folder = avatar_folder()
    for name in names:
        if not name or os.sep in name or name.startswith("."):
            continue
        try:
            os.remove(os.path.join(folder, name))
        except FileNotFoundError:
            pass

# Uploads are written to a temporary file with this prefix, then renamed into place.
TEMPORARY_PREFIX = ".upload-"


def clean_temporary_files():
    """Remove half-written uploads left by a crash (run at start-up, before serving)."""
    folder = avatar_folder()
    for name in os.listdir(folder):
        if name.startswith(TEMPORARY_PREFIX):
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass
