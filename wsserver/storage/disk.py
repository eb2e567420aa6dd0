"""The disk: free space where the instance lives, the reserve writes keep, whether a file can be
written somewhere, and keeping the instance's files to their owner (the database holds password
hashes and invite tokens): the instance folder 0700, its database, counter and secret files 0600
(tightened at every start)."""
import os
import stat

PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

MIB = 1024 * 1024
# Below this much free space a write (a row, the WAL, an avatar file) may fail with "disk full": a
# database I/O error there is taken for a full disk (errors.is_storage_full, 507). The instance's
# reserve (WSSERVER_DISK_RESERVE_MB, at least this) is kept above it: below the reserve, writes are
# refused before they start (http/disk_reserve.py) and /readyz fails `storage`.
MIN_FREE_BYTES = MIB


def free_bytes(path):
    """Bytes an unprivileged writer may still use on the file system holding `path`."""
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def reserve_bytes(config):
    """The instance's disk reserve in bytes (WSSERVER_DISK_RESERVE_MB; never below MIN_FREE_BYTES, which
    /readyz keeps when the setting is 0)."""
    return max(config["DISK_RESERVE_MB"] * MIB, MIN_FREE_BYTES)


def has_room(path, reserve):
    """Whether the file system holding `path` has `reserve` bytes free (False when it can't be read:
    a limit that cannot be checked is not met)."""
    try:
        return free_bytes(path) >= reserve
    except OSError:
        return False


def missing_folder(path):
    """Why a file at `path` cannot be written because of its folder, in words; None when the folder is there."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder):
        return None
    problem = "is not a folder" if os.path.exists(folder) else "does not exist"
    return f"cannot write {path}: the folder {folder} {problem}"


def make_private_folder(path):
    """The folder at `path`, made if missing, readable by its owner only (an existing one is tightened)."""
    os.makedirs(path, mode=PRIVATE_FOLDER_MODE, exist_ok=True)
    _tighten(path, PRIVATE_FOLDER_MODE)


def make_private_file(path):
    """The file at `path`, made empty if missing, readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    os.close(descriptor)
    _tighten(path, PRIVATE_FILE_MODE)


def _tighten(path, mode):
    """Take every permission beyond `mode` away (a file we do not own is left as it is)."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)
    except PermissionError:
        pass
