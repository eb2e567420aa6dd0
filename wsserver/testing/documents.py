"""Seed files and canonical documents, both ways (see testing/seed.py and testing/state.py):
`normalize()` makes a canonical document of a validated seed file, generating what the file
leaves out; `to_file_document()` writes a canonical document in the seed file format."""
from flask import current_app
from werkzeug.security import generate_password_hash

from schemas.seed import SEED_FORMAT_VERSION, SeedSchema

from ..fields import DEFAULT_ORGANIZATION_NAME, DEFAULT_VISIBILITY
from ..permissions import FULL_SCOPE
from ..ids import account_uuid, hash_secret, new_id, new_secret, new_uuid, now_iso

SEED_TOKEN_NAME = "seed"



def normalize(seed):
    """A validated seed file as a canonical document: what the file leaves out is generated now."""
    now = now_iso()
    account_ids, result_accounts = {}, []
    for entry in seed["accounts"]:
        created_at = entry.get("createdAt", now)
        account_id = entry.get("id") or new_id()
        account_ids[entry["username"]] = account_id
        digests = [hash_secret(token) for token in entry.get("tokens", [])] + list(entry.get("tokenHashes", []))
        password_hash = entry.get("passwordHash")
        if "password" in entry:
            password_hash = generate_password_hash(entry["password"])
        result_accounts.append({
            "id": account_id,
            "uuid": str(entry["uuid"]) if "uuid" in entry else account_uuid(account_id),
            "username": entry["username"],
            "nickname": entry.get("nickname") or entry["username"],
            "admin": entry.get("admin", False),
            "passwordHash": password_hash,
            "tokens": [
                # a seed file's token: the default name, no expiry, every scope, no prefix shown
                {"id": new_id(), "hash": digest, "name": SEED_TOKEN_NAME, "createdAt": created_at, "prefix": None,
                 "lastUsedAt": None, "expiresAt": None, "scope": FULL_SCOPE}
                for digest in digests
            ],
            "createdAt": created_at,
        })
    first_owner = {}
    for entry in seed["memberships"]:
        if entry["level"] == "owner":
            first_owner.setdefault(entry["workspace"], account_ids[entry["account"]])
    workspace_ids, result_workspaces = {}, []
    numbers = {entry["number"] for entry in seed["workspaces"] if "number" in entry}
    next_number = max(numbers, default=0) + 1
    for entry in seed["workspaces"]:
        workspace_id = entry.get("id") or new_id()
        workspace_ids[entry["fullname"]] = workspace_id
        created_at = entry.get("createdAt", now)
        meta = entry.get("meta") or {}
        creator = entry.get("createdBy")
        # a username of the file, else taken as an account id (of an account deleted since, say)
        created_by = account_ids.get(creator, creator) if creator else first_owner[entry["fullname"]]
        number = entry.get("number")
        if number is None:
            number, next_number = next_number, next_number + 1
        result_workspaces.append({
            "id": workspace_id,
            "fullname": entry["fullname"],
            "invite": entry.get("invite") or new_secret(),
            "tags": list(entry.get("tags", [])),
            "labels": dict(entry.get("labels", {})),
            "meta": {"title": meta.get("title"), "description": meta.get("description"), "avatar": meta.get("avatar")},
            "avatarFile": None,
            "createdAt": created_at,
            "updatedAt": entry.get("updatedAt", created_at),
            "createdBy": created_by,
            "updatedBy": account_ids.get(entry["updatedBy"], entry["updatedBy"]) if "updatedBy" in entry else created_by,
            "archivedAt": entry.get("archivedAt"),
            "deletedAt": entry.get("deletedAt"),
            "number": number,
            "uuid": str(entry["uuid"]) if "uuid" in entry else None,  # generated below, after every other id
            "organizationId": str(entry["organization"]) if "organization" in entry else None,
            "visibility": entry.get("visibility", DEFAULT_VISIBILITY),
            "views": entry.get("views", 0),
            "attributes": dict(entry.get("attributes", {})),
        })
    result_memberships = [
        {
            "id": entry.get("id") or new_id(),
            "workspaceId": workspace_ids[entry["workspace"]],
            "accountId": account_ids[entry["account"]],
            "level": entry["level"],
            "createdAt": entry.get("createdAt", now),
            "lastVisitAt": entry.get("lastVisitAt"),
        }
        for entry in seed["memberships"]
    ]
    # UUIDs last, so a version 1 file gives every other generated id as it always did
    result_organizations = [
        {
            "id": str(entry["id"]) if "id" in entry else new_uuid(),
            "name": entry["name"],
            "default": entry.get("default", False),
            "createdAt": entry.get("createdAt", now),
        }
        for entry in seed.get("organizations", [])
    ] or [{
        "id": current_app.config.get("DEFAULT_ORG_ID") or new_uuid(), "name": DEFAULT_ORGANIZATION_NAME,
        "default": True, "createdAt": now,
    }]
    default_id = next(organization["id"] for organization in result_organizations if organization["default"])
    for workspace in result_workspaces:
        workspace["uuid"] = workspace["uuid"] or new_uuid()
        workspace["organizationId"] = workspace["organizationId"] or default_id
    return {"organizations": result_organizations, "accounts": result_accounts, "workspaces": result_workspaces,
            "memberships": result_memberships}


def to_file_document(state):
    """A canonical document in the seed file format (references by username and fullname)."""
    usernames = {account["id"]: account["username"] for account in state["accounts"]}
    fullnames = {workspace["id"]: workspace["fullname"] for workspace in state["workspaces"]}
    document = {
        "version": SEED_FORMAT_VERSION,
        "organizations": [
            {"id": organization["id"], "name": organization["name"], "default": organization["default"],
             "createdAt": organization["createdAt"]}
            for organization in state["organizations"]
        ],
        "accounts": [
            {
                "id": account["id"],
                "uuid": account["uuid"],
                "username": account["username"],
                "nickname": account["nickname"],
                "admin": account["admin"],
                **({"passwordHash": account["passwordHash"]} if account["passwordHash"] else {}),
                "tokenHashes": sorted({token["hash"] for token in account["tokens"]}),
                "createdAt": account["createdAt"],
            }
            for account in state["accounts"]
        ],
        "workspaces": [
            {
                "id": workspace["id"],
                "fullname": workspace["fullname"],
                "invite": workspace["invite"],
                "tags": workspace["tags"],
                "labels": workspace["labels"],
                "meta": workspace["meta"],
                "createdAt": workspace["createdAt"],
                "updatedAt": workspace["updatedAt"],
                "createdBy": usernames.get(workspace["createdBy"], workspace["createdBy"]),
                "updatedBy": usernames.get(workspace["updatedBy"], workspace["updatedBy"]),
                "archivedAt": workspace["archivedAt"],
                "deletedAt": workspace["deletedAt"],
                "number": workspace["number"],
                "uuid": workspace["uuid"],
                "organization": workspace["organizationId"],
                "visibility": workspace["visibility"],
                "views": workspace["views"],
                "attributes": workspace["attributes"],
            }
            for workspace in state["workspaces"]
        ],
        "memberships": [
            {
                "id": entry["id"],
                "workspace": fullnames[entry["workspaceId"]],
                "account": usernames[entry["accountId"]],
                "level": entry["level"],
                "createdAt": entry["createdAt"],
                **({"lastVisitAt": entry["lastVisitAt"]} if entry["lastVisitAt"] else {}),
            }
            for entry in state["memberships"]
        ],
    }
    return SeedSchema().dump(document)  # the schema's field order
