"""One workspace's pages: its fields, avatar, invite link, members, deletion; joining by invite.
Every change goes through the API's services and permission table; a refusal is shown with the
API's own message on the page it came from."""
from flask import flash, redirect, request, url_for

from ..errors import DomainError
from ..permissions import LEVEL_NAMES, LEVELS, Action
from ..services import avatars, members, workspaces
from .blueprint import blp, render_page
from .pages import save, save_form
from .session import signed_in_account


def workspace_page(fullname, status=200, **shown):
    """The workspace page; `shown` holds what the last form left to show (problems, the form, ...)."""
    access, entries = members.workspace_with_entries(signed_in_account(), fullname)
    workspace = access.workspace
    invite_link = None
    if access.invite_visible:
        path = url_for("ui.join", fullname=workspace.fullname, invite=workspace.invite)
        invite_link = avatars.public_base_url(request.url_root) + path
    context = dict(problems={}, form=None, avatar_problem=None, members_problem=None)
    context.update(shown)
    return render_page(
        "ui/workspace.html", status, access=access, entries=entries, invite_link=invite_link,
        labels_text="\n".join(f"{key}={value}" for key, value in workspace.labels.items()),
        level_names=LEVEL_NAMES, level_name=LEVEL_NAMES.get(access.actor.level, "instance admin"), **context,
    )


@blp.route("/w/<fullname>", methods=["GET", "POST"])
def workspace(fullname):
    """One workspace: its fields (editable by owners and admins), the avatar, the invite, the members."""
    if request.method == "POST":
        problems, _ = save_form(fullname, request.form, create=False)
        if not problems:
            flash("Saved.")
            return redirect(url_for("ui.workspace", fullname=fullname))
        return workspace_page(fullname, 422, problems=problems, form=request.form)
    return workspace_page(fullname)


@blp.route("/w/<fullname>/avatar", methods=["POST"])
def upload_avatar(fullname):
    """The file picker's file, through the avatar service (same checks, limits and messages)."""
    picked = request.files.get("avatar")
    if picked is None or not picked.filename:
        return workspace_page(fullname, 400, avatar_problem="Choose an image file first.")
    try:
        avatars.upload_avatar_file(signed_in_account(), fullname, (picked.mimetype or "").lower(), picked.read,
                                   request.url_root)
    except DomainError as error:
        if error.status in (403, 404):  # who may not upload has no upload form: the refusal page
            raise
        said = [error.message] + [line for lines in (error.details or {}).values() for line in lines]
        return workspace_page(fullname, error.status, avatar_problem=" ".join(dict.fromkeys(said)))
    flash("The new avatar is stored.")
    return redirect(url_for("ui.workspace", fullname=fullname))


@blp.route("/w/<fullname>/archive", methods=["POST"])
def archive(fullname):
    """Archive (`archived=true`) or unarchive (`archived=false`): owners, admins, instance admins."""
    archived = request.form.get("archived") == "true"
    workspaces.set_archived(signed_in_account(), fullname, archived)
    flash("Archived: lists leave it out unless asked." if archived else "Unarchived.")
    return redirect(url_for("ui.workspace", fullname=fullname))


@blp.route("/w/<fullname>/invite/reset", methods=["GET", "POST"])
def reset_invite(fullname):
    """Asks first (GET), then makes a new invite token (POST): the old link stops working."""
    if request.method == "GET":
        access = workspaces.get_workspace(signed_in_account(), fullname, Action.UPDATE)  # who may reset it
        return render_page("ui/confirm.html", workspace=access.workspace, action="reset-invite")
    problems, _ = save(fullname, {"fullname": fullname, "resetInvite": True})
    if problems:
        return workspace_page(fullname, 409, problems=problems)
    flash("The invite link is new: the old one no longer works.")
    return redirect(url_for("ui.workspace", fullname=fullname) + "#invite-heading")


@blp.route("/w/<fullname>/members/<entry_id>/level", methods=["POST"])
def change_level(fullname, entry_id):
    level = request.form.get("level", "")
    if level not in LEVELS:
        return workspace_page(fullname, 400, members_problem=f"Choose a level: {', '.join(LEVELS)}.")
    try:
        members.change_level(signed_in_account(), fullname, entry_id, level)
    except DomainError as error:  # shown on the workspace page (its own 404 page if it is gone)
        return workspace_page(fullname, error.status, members_problem=error.message)
    flash("Level changed.")
    return redirect(url_for("ui.workspace", fullname=fullname) + "#members-heading")


@blp.route("/w/<fullname>/members/<entry_id>/remove", methods=["POST"])
def remove_member(fullname, entry_id):
    """Remove a member, or leave (one's own entry)."""
    account = signed_in_account()
    try:
        leaving = members.remove_entry(account, fullname, entry_id)
    except DomainError as error:  # shown on the workspace page (its own 404 page if it is gone)
        return workspace_page(fullname, error.status, members_problem=error.message)
    if leaving:
        flash(f"You left {fullname}.")
        return redirect(url_for("ui.workspaces"))
    flash("Member removed.")
    return redirect(url_for("ui.workspace", fullname=fullname) + "#members-heading")


@blp.route("/w/<fullname>/delete", methods=["GET", "POST"])
def delete_workspace(fullname):
    """Asks first (GET), then deletes (POST; owners and instance admins)."""
    if request.method == "GET":
        access = workspaces.get_workspace(signed_in_account(), fullname, Action.DELETE)  # asks only who may
        return render_page("ui/confirm.html", workspace=access.workspace, action="delete")
    workspaces.delete_workspace(signed_in_account(), fullname)
    flash(f"{fullname} is deleted.")
    return redirect(url_for("ui.workspaces"))


@blp.route("/join/<fullname>", methods=["GET", "POST"])
def join(fullname):
    """An invite link: GET asks (a link opened is never a change), POST joins as a user."""
    invite = request.values.get("invite", "")
    account = signed_in_account()
    if request.method == "POST":
        members.redeem_invite(account, fullname, invite)
        flash(f"Welcome to {fullname}.")
        return redirect(url_for("ui.workspace", fullname=fullname))
    _, member = members.check_invite(account, fullname, invite)  # the refusal page if it would be refused
    if member:
        return redirect(url_for("ui.workspace", fullname=fullname))
    return render_page("ui/join.html", fullname=fullname, invite=invite)
