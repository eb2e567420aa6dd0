"""The disk: free space where the instance lives, and whether a file can be written somewhere."""
import os

# Below this much free space a write (a row, the WAL, an avatar file) may fail with "disk full":
# /readyz says the storage is not ready, and a failed write there is answered 507.
MIN_FREE_BYTES = 1024 * 1024


def free_bytes(path):
    """Bytes an unprivileged writer may still use on the file system holding `path`."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def has_room(path):
    """Whether the file system holding `path` has MIN_FREE_BYTES free (False when it can't be read)."""
    try:
        return free_bytes(path) >= MIN_FREE_BYTES
    except OSError:
        return False


def missing_folder(path):
    """Why a file at `path` cannot be written because of its folder, in words; None when the folder is there."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        return None
    problem = "is not a folder" if os.path.exists(folder) else "does not exist"
    return f"cannot write {path}: the folder {folder} {problem}"
