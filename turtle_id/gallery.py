"""The gallery: known individuals and their photos, and the two things done with them:
enrol photos, and identify a query photo against them.

The catalogue (SQLite) is the truth; the hnswlib index is a cache rebuilt from it whenever it
is missing, damaged, made by another model, or behind the catalogue (another process enrolled).
"""

import logging
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from turtle_id.catalogue import ENROLMENT_ACTIONS, Catalogue, PhotoFacts, PhotoRow
from turtle_id.datasets import PhotoRecord
from turtle_id.encoder import Encoder
from turtle_id.fusion import Fusion
from turtle_id.head_finder import HeadFinder
from turtle_id.index import IndexMismatch, PhotoIndex
from turtle_id.keypoints import KeypointMatch, KeypointMatcher, Keypoints, KeypointSettings
from turtle_id.matching import MATCH, Candidate, best_per_individual, decide
from turtle_id.photo import Photo, PhotoError, Region, crop, load_photo
from turtle_id.photostore import PhotoStore, sha256_of
from turtle_id.settings import ASSETS, VIEWS, IndexSettings, MatchSettings
from turtle_id.sightings import Sighting, SightingFilter

log = logging.getLogger(__name__)

Progress = Callable[[Iterable], Iterable]  # wraps an iterable to show progress (tqdm-like)
CALIBRATION_FILE = "calibration.json"  # in the gallery folder; else the one shipped in assets/
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.()-]{0,63}$")


class LikelyDuplicate(ValueError):
    """Registering a "new" turtle whose photo strongly matches one already in the gallery."""

    def __init__(self, name: str, match: "Match"):
        self.match = match
        super().__init__(
            f"{name} strongly matches turtle {match.turtle_id!r} ({match.score:.2f}): "
            "add the photo to that turtle, or confirm that this is a different turtle"
        )


def validate_individual_id(name: str) -> str:
    """The name, stripped, if it can be a turtle ID; else ValueError saying what to change."""
    name = (name or "").strip()
    if not name:
        raise ValueError("turtle ID is empty: type a name, or leave it blank to generate one")
    bad = sorted({c for c in name if c in '/\\:*?"<>|' or ord(c) < 32})
    if bad or ".." in name:
        shown = " ".join(repr(c) for c in bad) or "'..'"
        raise ValueError(
            f"turtle ID {name!r} contains {shown}: use letters, digits, space, '-', '_', '.'"
        )
    if not ID_PATTERN.match(name):
        raise ValueError(
            f"turtle ID {name!r} must start with a letter or digit and be at most 64 of: "
            "letters, digits, space, '-', '_', '.', '(', ')'"
        )
    return name


@dataclass(frozen=True)
class Match:
    turtle_id: str
    score: float  # fused match probability, or the similarity when no fusion fits the model
    similarity: float  # best cosine similarity among the individual's gallery photos
    inliers: int  # best keypoint inlier count among its verified photos
    photo_id: int
    photo: Path  # the stored gallery photo
    preview: Path  # its JPEG copy, for display
    source_name: str  # the file it was enrolled from
    view: str | None
    date_taken: str | None = None  # of that gallery photo, ISO text
    site: str | None = None


@dataclass(frozen=True)
class Identification:
    photo: str  # the query, as named by the caller
    decision: str  # matching.MATCH, REVIEW or NEW
    matches: list[Match]  # best first, at most `top`
    region: Region | None  # the part of the query used; None = whole photo
    gallery_size: int  # photos searched (after the view filter)
    head_found: bool | None = None  # the head finder's verdict; None when it was not asked
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)  # the query's

    def as_json(self) -> dict:
        return {
            "photo": self.photo,
            "decision": self.decision,
            "region": list(self.region) if self.region else None,
            "matches": [
                {
                    "turtle_id": m.turtle_id,
                    "score": round(m.score, 4),
                    "similarity": round(m.similarity, 4),
                    "inliers": m.inliers,
                    "photo": str(m.photo),
                    "source": m.source_name,
                    "date_taken": m.date_taken,
                    "site": m.site,
                }
                for m in self.matches
            ],
        }


HEAD_MARGIN = 0.1  # of the box's width and height, added on each side of a found head
WHOLE_PHOTO_SHARE = 0.5  # a padded head box covering more of the photo than this: use it all


def _head_region(box: Region, scale: float, size: tuple[int, int]) -> Region | None:
    """A found head box (pixels of a reduced picture) as a region of the full photo, with a
    margin so the scutes at its edge keep their keypoints; None when the head fills most of
    the photo already (a photo cropped to the head needs no second crop)."""
    x, y, w, h = (v / scale for v in box)
    x, y, w, h = (
        x - HEAD_MARGIN * w,
        y - HEAD_MARGIN * h,
        w * (1 + 2 * HEAD_MARGIN),
        h * (1 + 2 * HEAD_MARGIN),
    )
    width, height = size
    left, top = max(0, round(x)), max(0, round(y))
    right, bottom = min(width, round(x + w)), min(height, round(y + h))
    if right <= left or bottom <= top:
        return None
    if (right - left) * (bottom - top) > WHOLE_PHOTO_SHARE * width * height:
        return None
    return left, top, right - left, bottom - top


@dataclass(frozen=True)
class Explanation:
    query: object  # PIL image: the query (its region) as matched
    gallery: object  # PIL image: the gallery photo (its region) as matched
    match: KeypointMatch  # counts, and inlier pairs in the two pictures' pixels
    turtle_id: str
    source_name: str


@dataclass
class EnrolSummary:
    added: int = 0
    already: int = 0  # photos already in the gallery under the same individual
    new_individuals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file: reason", nothing written for them
    photo_ids: list[int] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"enrolled {self.added} photos ({len(self.new_individuals)} new individuals), "
            f"{self.already} already in the gallery, {len(self.problems)} problems"
        )


@dataclass
class _Prepared:
    record: PhotoRecord
    data: bytes
    sha256: str
    embedding: np.ndarray
    keypoints: Keypoints
    picture: object  # PIL image for the preview
    taken: str | None
    location: tuple[float, float] | None = None  # EXIF GPS


def _position(record: PhotoRecord, exif: tuple[float, float] | None) -> dict:
    """Latitude and longitude as typed or listed, else from the photo's EXIF GPS."""
    if record.latitude is not None and record.longitude is not None:
        return {"latitude": record.latitude, "longitude": record.longitude}
    latitude, longitude = exif or (None, None)
    return {"latitude": latitude, "longitude": longitude}


class Gallery:
    """A gallery folder: `gallery.sqlite`, `photos/`, `previews/` and `index/`."""

    def __init__(
        self,
        root: Path,
        encoder: Encoder,
        match: MatchSettings | None = None,
        index: IndexSettings | None = None,
        progress: Progress | None = None,
        keypoints: KeypointSettings | None = None,
        head_finder: HeadFinder | None = None,
    ):
        self.root = Path(root)
        self.encoder = encoder
        self.match_settings = match or MatchSettings()
        self.index_settings = index or IndexSettings()
        self.catalogue = Catalogue(self.root / "gallery.sqlite")
        self.store = PhotoStore(self.root)
        self.index_path = self.root / "index" / "photos.hnsw"
        self.keypoints = KeypointMatcher(keypoints or KeypointSettings())
        # Photos given without a region are cropped to the head it finds; None = whole photo.
        self.head_finder = head_finder
        self.fusion = self._load_fusion()
        self._lock = threading.RLock()
        self._index: PhotoIndex | None = None
        self._individual_of: dict[int, str] = {}
        self._view_of: dict[int, str | None] = {}
        self._sighting_of: dict[int, tuple[str | None, str | None]] = {}  # date taken, site
        # Latest event the maps above follow; None = read them whole on the next sync.
        self._seen_event: int | None = None
        self.reembed_stale(progress)

    def close(self) -> None:
        self.catalogue.close()

    # Enrolment

    def enrol(
        self,
        records: list[PhotoRecord],
        progress: Progress | None = None,
        user: str | None = None,
    ) -> EnrolSummary:
        """Add labelled photos. Problem rows are reported and skipped; the rest is written in
        one transaction, so an interrupted or failed enrolment leaves the gallery as it was.

        Args:
            user: who enrols, for the audit trail; None = the OS user.
        """
        summary = EnrolSummary()
        prepared = self._prepare(records, summary, progress)
        if prepared:
            self._commit(prepared, summary, user=user)
        return summary

    def register(
        self,
        source: Path | bytes,
        name: str,
        turtle_id: str | None = None,
        new: bool = True,
        view: str | None = None,
        region: Region | None = None,
        confirmed: bool = False,
        sighting: Sighting | None = None,
        user: str | None = None,
    ) -> tuple[str, int]:
        """Enrol one query photo as a new turtle (`turtle_id` typed or, if None, generated) or,
        with new=False, add it to the existing turtle `turtle_id`.

        Args:
            confirmed: register as new even when the photo is a confident match for a turtle
                already in the gallery; without it that raises LikelyDuplicate, naming it.
            sighting: date, site, observer, notes, position; its None fields come from the
                photo's EXIF (date, GPS) or stay empty.
            user: who registers, for the audit trail; None = the OS user.

        Returns:
            the turtle ID and the photo id.
        """
        if view is not None and view not in VIEWS:
            raise ValueError(f"view {view!r} is not one of {', '.join(VIEWS)}")
        if new:
            if turtle_id is not None and str(turtle_id).strip():
                turtle_id = validate_individual_id(turtle_id)
                existing = self.catalogue.individual_named(turtle_id)
                if existing:
                    raise ValueError(
                        f"turtle ID {turtle_id!r} already exists (as {existing!r}): pick another "
                        "name, or add the photo to that turtle instead"
                    )
            else:
                turtle_id = None  # generated inside the write transaction, so never twice
        else:
            existing = self.catalogue.individual_named(turtle_id or "")
            if not existing:
                raise ValueError(
                    f"no turtle {turtle_id!r} in the gallery: choose one of the matches"
                )
            turtle_id = existing
        s = sighting or Sighting()
        record = PhotoRecord(
            Path(name),
            turtle_id,
            view,
            s.date,
            region,
            s.site,
            s.observer,
            latitude=s.latitude,
            longitude=s.longitude,
            notes=s.notes,
        )
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        already = self.catalogue.photo_with_hash(sha256_of(data))
        if already:
            raise ValueError(
                f"{name}: this photo is already in the gallery as turtle {already.individual_id!r}"
            )
        summary = EnrolSummary()
        prepared = self._prepare_one(record, data, name)
        if new and not confirmed:
            answer = self.identify_embedding(
                prepared.embedding, name, view, region, top=1, keypoints=prepared.keypoints
            )
            if answer.decision == MATCH:
                raise LikelyDuplicate(name, answer.matches[0])
        how = "register" if new else "add"
        self._commit([prepared], summary, generate=turtle_id is None, user=user, how=how)
        if not summary.photo_ids:
            owner = self.catalogue.photo_with_hash(prepared.sha256).individual_id
            raise ValueError(f"{name}: this photo is already in the gallery as turtle {owner!r}")
        return summary.new_individuals[0] if turtle_id is None else turtle_id, summary.photo_ids[0]

    def _prepare(
        self, records: list[PhotoRecord], summary: EnrolSummary, progress: Progress | None
    ) -> list[_Prepared]:
        """Read, deduplicate, decode and embed: everything that can fail, before any write."""
        seen: dict[str, str] = {}
        todo: list[tuple[PhotoRecord, bytes, str]] = []
        for record in records:
            name = str(record.path)
            try:
                validate_individual_id(record.individual_id or "")
                data = record.path.read_bytes()
            except (ValueError, OSError) as error:
                summary.problems.append(f"{name}: {error}")
                continue
            sha = sha256_of(data)
            stored = self.catalogue.photo_with_hash(sha)
            owner = stored.individual_id if stored else seen.get(sha)
            if owner is not None:
                if owner.lower() == record.individual_id.lower():
                    summary.already += 1
                else:
                    summary.problems.append(
                        f"{name}: the same photo is already enrolled as {owner!r}, not "
                        f"{record.individual_id!r}: fix the label"
                    )
                continue
            seen[sha] = record.individual_id
            todo.append((record, data, sha))

        def prepare(item):
            record, data, sha = item
            try:
                return self._prepare_one(record, data, str(record.path), sha)
            except PhotoError as error:
                return error

        prepared = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = pool.map(prepare, todo)
            for result in progress(results) if progress else results:
                if isinstance(result, PhotoError):
                    summary.problems.append(str(result))
                else:
                    prepared.append(result)
        return prepared

    def locate(
        self, source: Path | bytes, name: str, region: Region | None = None
    ) -> tuple[Photo, Region | None, bool | None]:
        """Decode a photo for embedding, and the region to use: the one given, else the head
        the head finder finds, else the whole photo (None).

        Returns:
            the decoded photo, the region, and whether a head was found (None: not looked for).
        """
        found = None
        if region is None and self.head_finder is not None:
            # A small decode is enough to find the head; the region is then decoded again at
            # the resolution the encoder needs, which a reduced whole photo may not have.
            overview = load_photo(source, name, target=self.head_finder.info.input_size)
            box = self.head_finder.find(overview.image)
            found = box is not None
            if box is not None:
                region = _head_region(box.region, overview.scale, overview.size)
        photo = load_photo(source, name, target=self.encoder.info.input_size, region=region)
        return photo, region, found

    def _prepare_one(
        self, record: PhotoRecord, data: bytes, name: str, sha: str | None = None
    ) -> _Prepared:
        photo, region, _ = self.locate(data, name, record.region)
        record = replace(record, region=region)
        picture = crop(photo, region, name)
        embedding = self.encoder.embed([picture])[0]
        keypoints = self.keypoints.extract(picture)
        return _Prepared(
            record,
            data,
            sha or sha256_of(data),
            embedding,
            keypoints,
            photo.image,
            photo.taken,
            photo.location,
        )

    def _commit(
        self,
        prepared: list[_Prepared],
        summary: EnrolSummary,
        generate: bool = False,
        user: str | None = None,
        how: str = "enrol",  # register (as new), add (to a turtle) or enrol (a collection)
    ) -> None:
        created_files: list[Path] = []
        try:
            with self.catalogue.transaction(user) as db:
                for item in prepared:
                    record = item.record
                    if self.catalogue.photo_with_hash(item.sha256):
                        # Enrolled by another writer since _prepare looked: inside the write
                        # lock this check cannot race, and the photo stays one photo.
                        summary.already += 1
                        continue
                    files, (original, preview) = self.store.put(
                        item.data, item.sha256, record.path.suffix, item.picture
                    )
                    created_files += files
                    individual = record.individual_id
                    if generate:
                        individual = Catalogue.next_generated_id(db)
                    existing = self.catalogue.individual_named(individual) if not generate else None
                    if existing:
                        individual = existing
                    else:
                        detail = {"source": str(record.path), "how": how}
                        Catalogue.add_individual(db, individual, detail)
                        summary.new_individuals.append(individual)
                    fields = {
                        "sha256": item.sha256,
                        "individual_id": individual,
                        "file": original,
                        "preview": preview,
                        "source_name": record.path.name,
                        "view": record.view,
                        "date_taken": record.date or item.taken,
                        "site": record.site,
                        "observer": record.observer,
                        "region": record.region,
                        "extra": record.extra,
                        "model_version": self.encoder.model_version,
                        **_position(record, item.location),
                        "notes": record.notes,
                    }
                    photo_id = Catalogue.add_photo(
                        db, fields, item.embedding, {"source": str(record.path), "how": how}
                    )
                    Catalogue.set_keypoints(
                        db, photo_id, self.keypoints.settings.key, item.keypoints.to_bytes()
                    )
                    summary.photo_ids.append(photo_id)
        except BaseException:
            # note: these files go after the ROLLBACK released the write lock; another writer
            # committing the very same photo in that instant would find its file gone (`check`
            # reports it). Rare: the same photo, enrolled twice at once, one enrolment failing.
            for path in created_files:
                path.unlink(missing_ok=True)
                if not any(path.parent.iterdir()):
                    path.parent.rmdir()
            summary.new_individuals.clear()
            summary.photo_ids.clear()
            raise
        summary.added += len(summary.photo_ids)
        self._sync_index(save=True)

    # Identification

    def identify(
        self,
        source: Path | bytes,
        name: str | None = None,
        view: str | None = None,
        region: Region | None = None,
        top: int | None = None,
        *,
        site: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Identification:
        """Rank the gallery's individuals for one query photo.

        Args:
            view: if given, only gallery photos of that view, or of unknown view, are matched.
            region: part of the query to use, x, y, w, h in pixels; None = whole photo.
            top: individuals to return (default from MatchSettings).
            site: if given, only gallery photos of that site (ignoring case) are matched.
            date_from, date_to: if given, only gallery photos taken on these days or between
                them (YYYY-MM-DD, inclusive) are matched.
        """
        name = name or (str(source) if not isinstance(source, bytes) else "query photo")
        if view is not None and view not in VIEWS:
            raise ValueError(f"view {view!r} is not one of {', '.join(VIEWS)}")
        photo, region, found = self.locate(source, name, region)
        picture = crop(photo, region, name)
        embedding = self.encoder.embed([picture])[0]
        keypoints = self.keypoints.extract(picture) if self.match_settings.verify else None
        answer = self.identify_embedding(
            embedding,
            name,
            view,
            region,
            top,
            keypoints,
            site=site,
            date_from=date_from,
            date_to=date_to,
        )
        return replace(answer, head_found=found)

    def identify_embedding(
        self,
        embedding: np.ndarray,
        name: str,
        view: str | None = None,
        region: Region | None = None,
        top: int | None = None,
        keypoints: Keypoints | None = None,
        *,
        site: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> Identification:
        """`identify` for an embedding (and keypoints) already made: search, verify the
        shortlist with keypoints, aggregate per individual, decide."""
        top = top or self.match_settings.top
        sightings = SightingFilter(site, date_from, date_to)
        with self._lock:
            index = self._sync_index()
            individual_of = self._individual_of
            allowed = None
            searchable = index.searchable
            if view is not None or sightings.active:
                view_of, sighting_of, removed = self._view_of, self._sighting_of, index.removed
                keep = {
                    label
                    for label, v in view_of.items()
                    if (view is None or v in (None, view))
                    and sightings.allows(*sighting_of[label])
                    and label not in removed
                }
                allowed = keep.__contains__
                searchable = len(keep)
            k = min(self.match_settings.shortlist, searchable)
            while True:
                labels, similarities = index.search(embedding, k, allowed)
                # Widen the search until `top` individuals are found or every photo was seen.
                if len({individual_of[int(x)] for x in labels}) >= top or k >= searchable:
                    break
                k = min(2 * k, searchable)
        inliers = {}
        if keypoints is not None:
            verified = labels[: self.match_settings.verify]  # best first by similarity
            inliers = {p: m.inliers for p, m in self.verify(keypoints, verified).items()}
        candidates = best_per_individual(
            labels, similarities, individual_of, top, inliers, self.fusion
        )
        return Identification(
            photo=name,
            decision=decide(candidates, self.threshold, self.review_threshold),
            matches=self._matches(candidates),
            region=region,
            gallery_size=searchable,
            embedding=embedding,
        )

    def verify(self, query: Keypoints, photo_ids) -> dict[int, KeypointMatch]:
        """Keypoint matches of the query against these gallery photos (stored keypoints)."""
        stored = self.catalogue.keypoints([int(p) for p in photo_ids], self.keypoints.settings.key)
        return {
            photo_id: self.keypoints.match(query, Keypoints.from_bytes(data))
            for photo_id, data in stored.items()
        }

    @property
    def threshold(self) -> float:
        """Score for a "match": the configured one, else the fusion's probability threshold,
        else the encoder's own similarity threshold."""
        configured = self.match_settings.threshold
        if configured is not None:
            return configured
        if self.fusion is not None:
            return self.fusion.match_threshold
        return self.encoder.info.match_threshold

    @property
    def score_kind(self) -> str:
        """What `Match.score` is, in words for the UI."""
        return "match probability" if self.fusion is not None else "similarity"

    @property
    def review_threshold(self) -> float | None:
        """Score below which the answer is "new"; None when there is no review band (no
        calibration fits this encoder)."""
        if self.fusion is None:
            return None
        return min(self.fusion.new_threshold, self.threshold)

    def _load_fusion(self) -> Fusion | None:
        """The gallery's own fitted fusion, else the shipped one, if it fits this encoder and
        keypoint extraction; None ranks by similarity alone."""
        if not self.match_settings.verify:
            return None
        for path in (self.root / CALIBRATION_FILE, ASSETS / CALIBRATION_FILE):
            if path.is_file():
                fusion = Fusion.load(path)
                if fusion.fits(self.encoder.model_version, self.keypoints.settings.key):
                    return fusion
                log.info("%s was fitted for another encoder or keypoint setting: ignored", path)
        return None

    def _matches(self, candidates: list[Candidate]) -> list[Match]:
        rows = {r.id: r for r in self.catalogue.photos([c.photo_id for c in candidates])}
        return [
            Match(
                turtle_id=c.individual_id,
                score=c.score,
                similarity=c.similarity,
                inliers=c.inliers,
                photo_id=c.photo_id,
                photo=self.store.absolute(rows[c.photo_id].file),
                preview=self.store.absolute(rows[c.photo_id].preview),
                source_name=rows[c.photo_id].source_name,
                view=rows[c.photo_id].view,
                date_taken=rows[c.photo_id].date_taken,
                site=rows[c.photo_id].site,
            )
            for c in candidates
        ]

    def explain(
        self, source: Path | bytes, name: str, photo_id: int, region: Region | None = None
    ) -> "Explanation":
        """Why a query matches one gallery photo: both pictures as the matcher saw them and the
        inlier keypoint pairs between them (query pixels, gallery pixels). The query's region
        is found as identify finds it when none is given."""
        photo, region, _ = self.locate(source, name, region)
        query = crop(photo, region, name)
        (row,) = self.catalogue.photos([photo_id])
        path = self.store.absolute(row.file)
        stored = load_photo(path, row.source_name, self.encoder.info.input_size, row.region)
        gallery_picture = crop(stored, row.region, row.source_name)
        # The stored gallery keypoints, as identify used them: the counts shown are the scored.
        match = self.verify(self.keypoints.extract(query), [photo_id])[photo_id]
        return Explanation(query, gallery_picture, match, row.individual_id, row.source_name)

    def embeddings_of(self, turtle_ids: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
        """Gallery embeddings (n, dim) and each photo's individual, for the RSM; all
        individuals when `turtle_ids` is None."""
        vectors, rows = self.catalogue.embeddings(self.encoder.model_version)
        keep = [i for i, r in enumerate(rows) if turtle_ids is None or r[1] in turtle_ids]
        if not keep:
            return np.zeros((0, self.encoder.info.embedding_size), np.float32), []
        return vectors[keep], [rows[i][1] for i in keep]

    # Browsing

    def individuals(self) -> list[tuple[str, int, str]]:
        """(turtle ID, photo count, created at) for every individual."""
        return self.catalogue.individuals()

    def photos_of(self, turtle_id: str) -> list[PhotoRow]:
        return self.catalogue.photos(individual_id=turtle_id)

    def preview_path(self, row: PhotoRow) -> Path:
        return self.store.absolute(row.preview)

    def __len__(self) -> int:
        return self.catalogue.count_photos()

    # Index upkeep

    def _sync_index(self, save: bool = False) -> PhotoIndex:
        """The index, loaded or rebuilt as needed and caught up with the catalogue."""
        version = self.encoder.model_version
        dim = self.encoder.info.embedding_size
        with self._lock:
            # Events first: a change committed after this read is seen again on the next sync.
            latest, actions = self.catalogue.changes_after(self._seen_event or 0)
            if "reembed" in actions and self._seen_event is not None:
                self._index = None  # another process re-embedded photos already indexed
            if self._index is None:
                self._index = self._load_or_rebuild(version, dim)
                save = save or self._index_dirty
            known = self._index.max_label
            embeddings, rows = self.catalogue.embeddings(version, after_id=known)
            if rows:
                self._index.add(embeddings, np.array([r[0] for r in rows]))
            if self._seen_event is None or not actions <= set(ENROLMENT_ACTIONS):
                # Renamed, merged, moved, removed, restored, edited (here or in another
                # process): the maps are read whole again, which is cheap (no embeddings).
                self._individual_of, self._view_of, self._sighting_of = {}, {}, {}
                self._remember(self.catalogue.facts(version, upto=self._index.max_label))
            elif rows:
                self._remember(self.catalogue.facts(version, known, self._index.max_label))
            self._seen_event = latest
            if (rows or self._index_dirty) and save:
                try:
                    self._index.save(self.index_path)
                    self._index_dirty = False
                except OSError as error:
                    # The index is only a cache: the next start rebuilds it from the catalogue.
                    log.warning("could not save the index to %s: %s", self.index_path, error)
            elif rows:
                self._index_dirty = True
            return self._index

    _index_dirty = False

    def _load_or_rebuild(self, version: str, dim: int) -> PhotoIndex:
        try:
            index = PhotoIndex.load(self.index_path, dim, version, self.index_settings)
            # A count, not the embeddings: at 1M photos those are 5 GB read only to be counted.
            indexed = self.catalogue.count_embedded(version, upto=index.max_label)
            if indexed != len(index):
                raise IndexMismatch(f"index holds {len(index)} photos, catalogue {indexed}")
            self._seen_event = None  # the maps are read whole by the caller
            return index
        except IndexMismatch as reason:
            if self.index_path.exists() or self.catalogue.count_embedded(version):
                log.info("rebuilding the index from the catalogue: %s", reason)
        index = PhotoIndex(dim, version, self.index_settings)
        self._seen_event = None
        self._index_dirty = True
        return index

    def _remember(self, facts: list[PhotoFacts]) -> None:
        removed = set(self._index.removed)
        for f in facts:
            self._individual_of[f.id] = f.individual_id
            self._view_of[f.id] = f.view
            self._sighting_of[f.id] = (f.date_taken, f.site)
            (removed.add if f.removed else removed.discard)(f.id)
        self._index.set_removed(removed)

    def _extract_missing_keypoints(self, progress: Progress | None) -> None:
        key = self.keypoints.settings.key
        missing = self.catalogue.photos_without_keypoints(key)
        if not missing:
            return
        log.info("extracting keypoints (%s) of %d photos", key, len(missing))
        found = []
        for row in progress(missing) if progress else missing:
            path = self.store.absolute(row.file)
            photo = load_photo(path, row.source_name, self.encoder.info.input_size, row.region)
            found.append((row.id, self.keypoints.extract(crop(photo, row.region)).to_bytes()))
        with self.catalogue.transaction() as db:
            for photo_id, data in found:
                Catalogue.set_keypoints(db, photo_id, key, data)

    def reembed_stale(self, progress: Progress | None = None) -> int:
        """Re-embed photos another model version embedded, so one space is never mixed with
        another; returns how many were re-embedded."""
        self._extract_missing_keypoints(progress)
        stale = self.catalogue.stale_photos(self.encoder.model_version)
        if not stale:
            return 0
        log.info("re-embedding %d photos with %s", len(stale), self.encoder.model_version)
        updates = []
        for row in progress(stale) if progress else stale:
            path = self.store.absolute(row.file)
            photo = load_photo(path, row.source_name, self.encoder.info.input_size, row.region)
            updates.append((row.id, self.encoder.embed([crop(photo, row.region)])[0]))
        with self.catalogue.transaction() as db:
            for photo_id, embedding in updates:
                Catalogue.set_embedding(db, photo_id, embedding, self.encoder.model_version)
        self._index = None  # ids re-embedded below max_label: rebuild rather than patch
        return len(updates)
