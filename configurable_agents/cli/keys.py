"""`configurable-agents keys create NAME | list | revoke NAME`: API keys for programs.

A key is printed once, when it is created; only its SHA-256 is stored. Exit codes: 0 done,
2 a wrong name (empty, taken by a live key, or no live key of that name to revoke).
"""

from __future__ import annotations

import argparse
import json
import sys

from configurable_agents.cli._shared import AddCommand, open_migrated_database

EXIT_OK, EXIT_INVALID = 0, 2


def register(add: AddCommand) -> None:
    """Add `keys` with its create, list and revoke actions."""
    keys = add("keys", cmd_keys, "API keys for the run API and /v1: create NAME, list, revoke NAME")
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("name")
    create.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="list live keys: name, prefix, created, last used")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a key: programs using it are refused")
    revoke.add_argument("name")


def cmd_keys(args: argparse.Namespace) -> int:
    """Create, list or revoke API keys."""
    from configurable_agents.storage.database import session_scope
    from configurable_agents.storage.errors import StorageError
    from configurable_agents.storage.repositories import api_keys

    _, database = open_migrated_database("keys")
    try:
        with session_scope(database.session_factory) as session:
            if args.action == "create":
                row, key = api_keys.create(session, args.name)
                if args.json:
                    print(json.dumps({"name": row.name, "key": key}))
                else:
                    print(key)
                    print(
                        f"API key {row.name!r} created: copy it now, it is not shown again.",
                        file=sys.stderr,
                    )
            elif args.action == "revoke":
                api_keys.revoke(session, args.name)
                print(f"revoked API key {args.name!r}")
            else:
                _print_keys(api_keys.list_keys(session), as_json=args.json)
    except StorageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _print_keys(keys: object, *, as_json: bool) -> None:
    rows = [
        {
            "name": key.name,
            "prefix": key.prefix,
            "created_at": key.created_at.isoformat(timespec="seconds"),
            "last_used_at": key.last_used_at.isoformat(timespec="seconds")
            if key.last_used_at
            else None,
        }
        for key in keys  # type: ignore[attr-defined]
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no API keys: create one with `configurable-agents keys create NAME`")
        return
    for row in rows:
        print(
            f"{row['name']}\t{row['prefix']}…\tcreated {row['created_at']}\tlast used {row['last_used_at'] or 'never'}"
        )
