"""The instance's disk reserve at the HTTP edge (README, "Budgets and quotas").

Below WSSERVER_DISK_RESERVE_MB free on the file system of the instance folder, a request that may
write (POST, PUT, PATCH of the API, the flavors and the web page's forms) is refused with 507 before
it starts, so the disk never fills up under the database, the rate-limit counters and the avatars.
Deletes (DELETE, and the web page's forms that delete or sign in and out) and reads still work, so
space can be freed. One statvfs per such request, none on a read; a disk whose free space cannot
be read counts as below the reserve. WSSERVER_DISK_RESERVE_MB=0 turns the check off.
"""
from flask import current_app, request

from ..errors import InsufficientStorage
from ..storage.disk import MIB, free_bytes, reserve_bytes

WRITE_METHODS = ("POST", "PUT", "PATCH")
# POSTs that free space or write nothing lasting: the web page's deletes and removals (its forms
# cannot send DELETE), signing in and out (a cookie), test mode's reset (empties the instance).
SPACE_FREEING_ENDPOINTS = frozenset({
    "ui.delete_workspace", "ui.remove_member", "ui.delete_account", "ui.sign_in", "ui.sign_out",
    "test-mode.Reset",
})


def refuse_writes_below_reserve():
    if (request.method not in WRITE_METHODS or request.routing_exception is not None
            or request.endpoint in SPACE_FREEING_ENDPOINTS):
        return
    config = current_app.config
    if not config["DISK_RESERVE_MB"]:
        return  # no reserve: a write that fills the disk answers 507 from the one error mapping
    reserve = reserve_bytes(config)
    try:
        free = free_bytes(config["INSTANCE_PATH"])
    except OSError:
        free = 0
    if free < reserve:
        raise InsufficientStorage(
            f"The server's disk is below its reserve of {reserve // MIB} MiB free, so it takes no new data; "
            f"nothing was changed. Reading and deleting still work. Try again once space has been freed.",
            {"reserve": "WSSERVER_DISK_RESERVE_MB", "limit": config["DISK_RESERVE_MB"]},
        )


def install_disk_reserve(app):
    app.before_request(refuse_writes_below_reserve)
