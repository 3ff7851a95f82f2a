"""Command line for keeping the record: gallery care, undo, audit, exports, backup, restore,
check and users. `turtle_id.cli` adds these commands to its own.

python -m turtle_id merge turtle-0007 Shelly --user ana
python -m turtle_id undo
python -m turtle_id audit --out audit.csv
python -m turtle_id export dwc --out occurrences.csv --species "Chelonia mydas"
python -m turtle_id backup gallery-2024-06-01.zip
python -m turtle_id restore gallery-2024-06-01.zip --gallery restored/
python -m turtle_id check --repair
"""

import getpass
import sys
from pathlib import Path

from tqdm import tqdm

from turtle_id.audit import audit_trail, write_audit_csv
from turtle_id.backup import backup, restore
from turtle_id.care import EDITABLE, Care
from turtle_id.catalogue import DATABASE_FILE, Catalogue, os_user
from turtle_id.encoder import Encoder
from turtle_id.integrity import check_gallery
from turtle_id.settings import GALLERY_ENV, VIEWS, default_encoder_path, default_gallery_dir
from turtle_id.tables import BASES_OF_RECORD, EXPORTS, DarwinCoreSettings, export
from turtle_id.users import add_user


def add_commands(sub, command) -> None:
    """Add the record-keeping commands; `command(name, func, help)` makes a sub-parser with
    the shared --gallery, --encoder and --verbose options."""

    def changing(name: str, func, help: str):
        p = command(name, func, help)
        p.add_argument("--user", help="who makes the change, for the audit trail (default: you)")
        return p

    p = changing("rename", _rename, "Give a turtle another ID.")
    p.add_argument("turtle", help="its current ID")
    p.add_argument("new_name", help="the new ID")

    p = changing(
        "merge",
        _merge,
        "Merge a turtle into another: its photos move there and its ID becomes an alias.",
    )
    p.add_argument("turtle", help="the ID that becomes an alias")
    p.add_argument("into", help="the ID that remains")

    p = changing("move", _move, "Move a photo to another turtle.")
    p.add_argument("photo_id", type=int)
    p.add_argument("turtle", help="the turtle it belongs to")

    p = changing("remove", _remove, "Take a photo out of matching (kept, restorable).")
    p.add_argument("photo_id", type=int)
    p.add_argument("--reason", help="why, for the audit trail")

    p = changing("reinstate", _reinstate, "Bring a removed photo back into matching.")
    p.add_argument("photo_id", type=int)

    p = changing("edit", _edit, "Change a photo's date, site, observer, notes, position or view.")
    p.add_argument("photo_id", type=int)
    p.add_argument("--date", dest="date_taken", help="YYYY-MM-DD [HH:MM[:SS]]; '' clears it")
    p.add_argument("--site")
    p.add_argument("--observer")
    p.add_argument("--notes")
    p.add_argument("--lat", dest="latitude", help="decimal degrees, north positive")
    p.add_argument("--lon", dest="longitude", help="decimal degrees, east positive")
    p.add_argument("--view", choices=[*VIEWS, ""])

    p = changing("undo", _undo, "Undo a change: the given event, else your latest change.")
    p.add_argument("event", type=int, nargs="?", help="event id (see `audit`)")

    p = command("audit", _audit, "List the changes made to the gallery, newest first.")
    p.add_argument("--out", type=Path, help="write them all to this CSV file instead")
    p.add_argument("--limit", type=int, default=50, help="changes to list (default 50)")

    p = command("export", _export, "Write the gallery as a CSV table for other tools.")
    p.add_argument(
        "table",
        choices=list(EXPORTS),
        help="photos (Zindi layout), sightings, or dwc (Darwin Core occurrences)",
    )
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    defaults = DarwinCoreSettings()
    p.add_argument(
        "--species",
        default=defaults.scientific_name,
        help="dwc scientificName (default %(default)s)",
    )
    p.add_argument(
        "--basis",
        choices=BASES_OF_RECORD,
        default=defaults.basis_of_record,
        help="dwc basisOfRecord (default %(default)s)",
    )
    p.add_argument(
        "--media-base", default="", help="prefix of associatedMedia, e.g. a URL of the gallery"
    )

    p = command("backup", _backup, "Write the whole gallery into one zip archive.")
    p.add_argument("archive", type=Path, help="zip file to write")

    p = command(
        "restore",
        _restore,
        "Restore a backup into --gallery (an empty or new folder; stop the app first).",
    )
    p.add_argument("archive", type=Path)
    p.add_argument("--force", action="store_true", help="replace the gallery that is there")

    p = command(
        "check",
        _check,
        "Check the database, the photo files and the index; exit 0 only when all agree.",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="delete orphan files, remake missing previews, rebuild a stale index",
    )

    p = command("users", _users, "Manage the logins of a hosted app ($TURTLE_ID_USERS).")
    p.add_argument("action", choices=["add"], help="add a user, or set a new password")
    p.add_argument("name")
    p.add_argument("--file", type=Path, required=True, help="the users file to write")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin, not a prompt"
    )


def gallery_root(args, create: bool = False) -> Path:
    """The gallery folder the command works on: --gallery, else $TURTLE_ID_GALLERY, else the
    user data one. A command that only reads (`create` False) refuses a folder that does not
    exist rather than make an empty gallery there; every command refuses a file."""
    root = args.gallery or default_gallery_dir()
    if root.exists() and not root.is_dir():
        raise ValueError(
            f"gallery {root} is a file, not a folder: give --gallery (or ${GALLERY_ENV}) the "
            "gallery's folder"
        )
    if not create and not root.exists():
        raise FileNotFoundError(
            f"no gallery at {root}: the folder does not exist: enrol photos first with "
            f"`python -m turtle_id enroll DATA --gallery {root}`, or check --gallery "
            f"(or ${GALLERY_ENV})"
        )
    return root


def _catalogue(args) -> Catalogue:
    root = gallery_root(args)
    if not (root / DATABASE_FILE).is_file():
        raise ValueError(
            f"no gallery at {root} (no {DATABASE_FILE}): give --gallery DIR or set "
            "$TURTLE_ID_GALLERY"
        )
    return Catalogue(root / DATABASE_FILE)


def _changed(what: str, event: int) -> int:
    print(f"{what} (event {event})")
    return 0


def _rename(args) -> int:
    event = Care(_catalogue(args)).rename(args.turtle, args.new_name, args.user)
    return _changed(f"renamed {args.turtle} to {args.new_name}", event)


def _merge(args) -> int:
    event = Care(_catalogue(args)).merge(args.turtle, args.into, args.user)
    return _changed(f"merged {args.turtle} into {args.into}", event)


def _move(args) -> int:
    event = Care(_catalogue(args)).move(args.photo_id, args.turtle, args.user)
    return _changed(f"moved photo {args.photo_id} to {args.turtle}", event)


def _remove(args) -> int:
    event = Care(_catalogue(args)).remove(args.photo_id, args.reason, args.user)
    return _changed(f"removed photo {args.photo_id}", event)


def _reinstate(args) -> int:
    event = Care(_catalogue(args)).restore(args.photo_id, args.user)
    return _changed(f"reinstated photo {args.photo_id}", event)


def _edit(args) -> int:
    changes = {k: getattr(args, k) for k in EDITABLE if getattr(args, k) is not None}
    if not changes:
        raise ValueError("nothing to edit: give --date, --site, --observer, --notes, --lat/--lon")
    changes = {k: (v if v != "" else None) for k, v in changes.items()}
    event = Care(_catalogue(args)).edit(args.photo_id, args.user, **changes)
    return _changed(f"edited photo {args.photo_id}: {', '.join(changes)}", event)


def _undo(args) -> int:
    catalogue = _catalogue(args)
    care = Care(catalogue)
    user = args.user
    if args.event is None and user is None:
        user = os_user()  # your own latest change, never someone else's by accident
    event = care.undo(args.event, user)
    (entry,) = audit_trail(catalogue, limit=1)
    return _changed(entry.what, event)


def _audit(args) -> int:
    catalogue = _catalogue(args)
    entries = audit_trail(catalogue, limit=None if args.out else args.limit)
    if args.out:
        write_audit_csv(entries, args.out)
        print(f"wrote {len(entries)} changes to {args.out}")
        return 0
    for e in entries:
        print(f"{e.event:>6}  {e.at}  {e.user or '-':<12}  {e.what}")
    return 0


def _export(args) -> int:
    settings = DarwinCoreSettings(args.species, args.basis, args.media_base)
    rows = export(_catalogue(args), args.table, args.out, settings)
    resolved = ""
    if args.table == "dwc":
        resolved = f" (scientificName {settings.scientific_name!r}, {settings.basis_of_record})"
    print(f"wrote {rows} rows to {args.out}{resolved}")
    return 0


def _backup(args) -> int:
    summary = backup(gallery_root(args), args.archive)
    for name in summary.missing:
        print(f"missing from the gallery: {name}", file=sys.stderr)
    print(summary.line())
    return 0


def _restore(args) -> int:
    print(restore(args.archive, gallery_root(args, create=True), force=args.force).line())
    return 0


def _check(args) -> int:
    root = gallery_root(args)
    encoder = Encoder(args.encoder or default_encoder_path())

    def bar(rows):
        return tqdm(rows, desc="hashing photos", mininterval=1, file=sys.stderr, leave=False)

    report = check_gallery(
        root,
        encoder.model_version,
        encoder.info.embedding_size,
        repair=args.repair,
        progress=bar,
    )
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _users(args) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ: run the command again")
    add_user(args.file, args.name, password)
    print(f"user {args.name} saved in {args.file} (scrypt hash; set $TURTLE_ID_USERS={args.file})")
    return 0
