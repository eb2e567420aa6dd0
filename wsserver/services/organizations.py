"""Organizations: every instance has one default organization, which new workspaces join.

Its id is a UUID, generated with the schema (storage.migrations) unless WSSERVER_DEFAULT_ORG_ID
pins it: then, at every start, the default organization takes that id, and its workspaces follow.
"""
from ..storage.db import database
from ..storage.migrations import ensure_an_organization
from ..storage.models import Organization, Workspace


def default_organization():
    """The default organization (the schema always has one)."""
    return Organization.get(Organization.is_default == True)  # noqa: E712


def organization_by_id(organization_id):
    """The organization with this id (a UUID as text, any case), or None."""
    return Organization.get_or_none(Organization.id == str(organization_id).lower())


def ensure_default_organization(pinned_id=None):
    """At start-up: a default organization exists (made when missing), with `pinned_id` when given."""
    with database.atomic():
        current = ensure_an_organization(database, pinned_id)
        if pinned_id:
            _pin(current, pinned_id)


def _pin(current, organization_id):
    """Make `organization_id` the default organization's id (a no-op when it already is)."""
    if current.id == organization_id:
        return
    pinned = Organization.get_or_none(Organization.id == organization_id)
    if pinned is None:  # the default organization takes the pinned id, with its workspaces
        Organization.create(id=organization_id, name=current.name, is_default=True, created_at=current.created_at)
        Workspace.update(organization_id=organization_id).where(Workspace.organization_id == current.id).execute()
        current.delete_instance()
    else:  # another organization of the instance becomes the default one
        Organization.update(is_default=False).where(Organization.id == current.id).execute()
        Organization.update(is_default=True).where(Organization.id == organization_id).execute()
