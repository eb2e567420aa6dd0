"""Seed files: load accounts, workspaces and memberships with fixed ids and tokens; export them again.

The file format is schemas/seed.py (README: "Using wsserver as a test
double"). In between, a state is a *canonical document*: every id, token
hash, invite and timestamp explicit, references as ids. testing/state.py
reads one from the database (`capture_state()`) and writes one back
(`replace_state()`); testing/documents.py's `normalize()` turns a validated
seed file into one (generating what the file leaves out) and
`to_file_document()` turns one into the file format. Tokens are stored only as hashes, so an export writes
`tokenHashes`, which seed accepts next to clear `tokens`: export, seed into an
empty instance and export again gives the same file.
"""
import json
import logging
import os
import tempfile
from dataclasses import dataclass

from flask import current_app
from marshmallow import ValidationError

from schemas.seed import SeedSchema, error_lines

from .. import ids
from ..storage.db import database
from ..errors import Conflict, Invalid
from ..ids import hash_secret
from ..storage.models import Token
from ..services import accounts as account_service
from .documents import normalize, to_file_document
from .state import capture_state, is_empty, replace_state

log = logging.getLogger("wsserver")


@dataclass(frozen=True)
class SeedResult:
    accounts: int
    workspaces: int
    memberships: int
    # The bootstrap admin's token when seeding had to create that account (no account in the file,
    # no WSSERVER_ADMIN_TOKEN): shown once, like at a first start.
    fresh_admin_token: str | None = None


# --- reading and writing files -----------------------------------------------------------------------


def file_format(path, explicit=None):
    """`json` or `yaml` from an explicit choice or the file's extension; None when neither says."""
    if explicit:
        return explicit
    extension = os.path.splitext(path)[1].lower()
    if extension == ".json":
        return "json"
    if extension in (".yaml", ".yml"):
        return "yaml"
    return None


def _yaml():
    import yaml  # only when a YAML file is read or written

    return yaml


def _yaml_loader():
    """PyYAML's safe loader without implicit timestamps: `createdAt: 2024-05-01T12:00:00Z` stays text."""
    yaml = _yaml()

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def _invalid_file(path, problem):
    return Invalid(f"The seed file {path} cannot be read.", {"(file)": [problem]})


def parse_text(text, fmt, path="<seed>"):
    """The document in `text` (JSON or YAML; both tried when fmt is None) as Python data."""
    if fmt in ("json", None):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if fmt == "json":
                raise _invalid_file(path, f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}.") from None
        except ValueError as exc:  # an integer literal past Python's digit limit
            if fmt == "json":
                raise _invalid_file(path, f"not valid JSON: {exc}.") from None
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise _invalid_file(path, f"not valid {'YAML' if fmt else 'JSON or YAML'}: {where}{problem}.") from None
    except ValueError as exc:  # an integer literal past Python's digit limit
        raise _invalid_file(path, f"not valid {'YAML' if fmt else 'JSON or YAML'}: {exc}.") from None


def read_seed_file(path):
    """The validated seed file at `path` (JSON, or YAML for .yaml/.yml); Invalid names every bad entry."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise _invalid_file(path, f"{exc.strerror or exc}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid_file(path, "not UTF-8 text.") from None
    return validate_document(parse_text(text, file_format(path), path), path)


def validate_document(document, source="the seed file"):
    if document is None:  # an empty YAML file: an empty state
        document = {}
    if not isinstance(document, dict):
        raise Invalid(
            f"{source} is not a valid seed file.",
            {"(file)": ["Expected a mapping with accounts, workspaces and memberships."]},
        )
    try:
        return SeedSchema(reserved_names=current_app.config["RESERVED_NAMES"]).load(document)
    except ValidationError as exc:
        raise Invalid(f"{source} is not a valid seed file.", error_lines(exc.messages)) from None


def describe(error, separator="\n"):
    """An Invalid from reading a seed file as `path: message` lines."""
    lines = [f"{path}: {message}" for path, messages in error.details.items() for message in messages]
    return separator.join(lines) or error.message


def dump_text(document, fmt):
    if fmt == "yaml":
        yaml = _yaml()
        return yaml.dump(
            document, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096
        )
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_seed_file(path, document, fmt=None):
    """Write `document` to `path` atomically, as JSON unless the extension (or `fmt`) says YAML."""
    text = dump_text(document, file_format(path, fmt) or "json")
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".seed-", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def export_document():
    """The instance's state in the seed file format."""
    with database.atomic():  # one consistent snapshot
        return to_file_document(capture_state())


# --- seeding ----------------------------------------------------------------------------------------


def seed_instance(seed, replace=False, bootstrap=True):
    """Load a validated seed file (see read_seed_file) in one transaction; returns a SeedResult.

    An instance holding data (see is_empty) is refused with Conflict unless
    `replace`: then its accounts, tokens, workspaces and memberships are
    replaced by the file's. The bootstrap admin of a fresh instance is
    replaced either way (by the file's `admin` when it has one). With
    `bootstrap`, the start-up admin rule runs again in the same transaction,
    so WSSERVER_ADMIN_TOKEN keeps working. In deterministic mode the id
    sequence starts again from its beginning: the same file gives the same ids.
    """
    config = current_app.config
    position = ids.generator_position()
    fresh_token = None
    try:
        with database.atomic():
            if not replace and not is_empty():
                raise Conflict(
                    "The instance already holds data; seed it with --replace to replace everything it holds.",
                    {"instance": ["not empty"]},
                )
            ids.rewind_generator(0)
            state = normalize(seed)
            replace_state(state)
            if bootstrap:
                fresh_token = account_service.ensure_bootstrap_admin(config["INSTANCE_PATH"], config["ADMIN_TOKEN"])
    except BaseException:
        ids.rewind_generator(position)  # nothing was written: the old rows still hold the ids drawn so far
        raise
    _forget_dead_admin_token_file(config["INSTANCE_PATH"])
    return SeedResult(len(state["accounts"]), len(state["workspaces"]), len(state["memberships"]), fresh_token)


def _forget_dead_admin_token_file(instance_path):
    """Remove <instance>/admin-token when the token it holds belongs to no account any more."""
    path = os.path.join(instance_path, account_service.ADMIN_TOKEN_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            secret = handle.read().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return
    if not Token.select().where(Token.token_hash == hash_secret(secret)).exists():
        os.remove(path)


def load_seed_file_at_startup():
    """WSSERVER_SEED_FILE at start-up: into an empty instance, or always in test mode (the instance is disposable).

    The admin rule runs in the same transaction, as for `flask seed`: a file
    without an instance admin gets the bootstrap `admin`. Returns that admin's
    fresh token when one was made (to be shown once), else None.
    """
    from ..config import ConfigError

    config = current_app.config
    path = config["SEED_FILE"]
    try:
        seed = read_seed_file(path)
    except Invalid as exc:
        raise ConfigError(f"WSSERVER_SEED_FILE ({path}): {describe(exc, '; ')}") from None
    try:
        result = seed_instance(seed, replace=config["TEST_MODE"])
    except Conflict as exc:
        if "instance" not in exc.details:  # not "already holds data": a rule of the file itself
            raise
        log.info("WSSERVER_SEED_FILE %s not loaded: the instance already holds data", path)
        return None
    log.info(
        "seeded from %s: %d accounts, %d workspaces, %d memberships",
        path, result.accounts, result.workspaces, result.memberships,
    )
    return result.fresh_admin_token
