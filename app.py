"""Turtle ID in the browser: identify a turtle photo against the gallery, see why it matches,
register new turtles, and look at how well the gallery's turtles are told apart.

    python app.py [--gallery DIR] [--threshold P] [--no-crop] [--host 127.0.0.1] [--port 7860]

Set $TURTLE_ID_USERS (name:password pairs, or a users file) to make rangers log in; without
it the app serves this machine only (127.0.0.1).

Runs offline, as in the field: no analytics, no update checks, and the page loads nothing from
outside the machine (system fonts only).
"""

import argparse
import functools
import os
from dataclasses import replace
from pathlib import Path

# Each library reads its switch when first imported, so these come before the imports below:
# Gradio's analytics and update check, Hugging Face Hub's telemetry, and onnxruntime's (without
# it, onnxruntime looks up mobile.events.data.microsoft.com about 10 s after a session starts).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import gradio as gr  # noqa: E402

from turtle_id import hosting, ui, ui_box, ui_care, ui_records, ui_sighting  # noqa: E402
from turtle_id.drawing import side_by_side  # noqa: E402
from turtle_id.encoder import Encoder  # noqa: E402
from turtle_id.gallery import Gallery, LikelyDuplicate  # noqa: E402
from turtle_id.head_finder import HeadFinder  # noqa: E402
from turtle_id.photo import parse_region  # noqa: E402
from turtle_id.settings import (  # noqa: E402
    MAX_UPLOAD_MB,
    MatchSettings,
    default_encoder_path,
    default_gallery_dir,
    default_head_finder_path,
)
from turtle_id.ui_insights import insights_tab  # noqa: E402
from turtle_id.users import load_users  # noqa: E402

NO_PHOTO = "no photo: drop, paste or choose a photo of the turtle first"
# Gradio's themes fetch Google web fonts unless every font is a plain name the system has.
THEME = gr.themes.Default(
    primary_hue="teal",
    font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)
CSS = """
#decision p { font-size: 1.25em; font-weight: 600; }
#matches .grid-wrap { min-height: 0; }  /* as tall as its one row of thumbnails */
#query .image-frame { cursor: crosshair; }  /* a click marks a corner of the head's box */
"""


def build_ui(gallery: Gallery) -> gr.Blocks:
    threshold, review_threshold = gallery.threshold, gallery.review_threshold
    score_kind = gallery.score_kind  # "match probability" with a calibrated fusion
    keypoints = gallery.match_settings.verify > 0  # whether inliers are counted at all

    def summary() -> str:
        state = ui.gallery_summary(len(gallery), len(gallery.individuals()))
        rule = ui.thresholds_text(score_kind, threshold, review_threshold)
        return f"Gallery `{gallery.root}`: {state} · {rule}"

    def query(held: ui_box.QueryPhoto | None, view: str) -> dict:
        """Gallery.identify/register arguments for the photo held: the package, not Gradio,
        decodes the uploaded file, so EXIF orientation and the file's hash survive and an
        unreadable file is reported with its fix.

        The region is the box drawn, not the region box's text: the page reads that text when
        a button is pressed, which may be before the box of a photo just dropped fills it in.
        The text reaches the box first, by its own events (region_typed), in the same queue."""
        if held is None:
            raise gr.Error(NO_PHOTO)
        return dict(source=held.path, name=held.name, view=ui.view_of(view), region=held.region)

    def boxed(before: ui_box.QueryPhoto, after: ui_box.QueryPhoto) -> dict:
        """The photo shown with its new box; what identify found is stale once the box moved."""
        note = ui.box_note(after.name, after.region, after.proposed, after.head_found, after.corner)
        shown = {
            outputs["held"]: after,
            outputs["photo"]: ui_box.shown(after),
            outputs["box_note"]: note,
            outputs["region"]: ui.region_field(after.region),
        }
        return {**cleared(), **shown} if after.region != before.region else shown

    def dropped(photo: dict | None = None) -> dict:
        """A photo dropped, pasted or chosen (preprocess=False: Gradio's file as it came):
        hold it, and box the head the finder finds; None when the photo was taken away."""
        if not photo:
            gone = {outputs["held"]: None, outputs["box_note"]: "", outputs["region"]: ""}
            return {**cleared(), **gone}
        name = photo.get("orig_name") or Path(photo["path"]).name
        held = ui_box.QueryPhoto(Path(photo["path"]), name)
        try:
            return {**cleared(), **boxed(held, ui_box.proposed(gallery, held))}
        except ValueError as error:  # identify and register stop on it again, with this message
            gr.Warning(str(error))
            empty = {outputs["held"]: held, outputs["box_note"]: str(error)}
            return {**cleared(), **empty, outputs["region"]: ""}

    def refused(handler):
        """For the Identify tab's handlers: a refusal (bad photo, bad date, no turtle chosen:
        the message says the fix) stays written where the decision goes, and nothing else on
        the page changes. A raised gr.Error would mark every output with an error badge and
        hide the photo and the matches."""

        @functools.wraps(handler)
        def wrapped(*args):
            try:
                return handler(*args)
            except (gr.Error, ValueError, OSError) as error:
                message = getattr(error, "message", None) or str(error)
                gr.Warning(message)
                return {outputs["decision"]: ui.refused_text(message)}

        return wrapped

    def readable(held: ui_box.QueryPhoto | None) -> bool:
        return held is not None and held.size is not None

    def unchanged(held: ui_box.QueryPhoto | None) -> dict:
        return {outputs["held"]: held}  # Gradio takes an empty dict for one output's value

    @refused
    def photo_clicked(held: ui_box.QueryPhoto | None, event: gr.SelectData) -> dict:
        """A click on the photo: a corner of the box the ranger draws."""
        if not readable(held):
            return unchanged(held)
        return boxed(held, ui_box.clicked(held, tuple(event.index)))

    @refused
    def region_typed(held: ui_box.QueryPhoto | None, text: str) -> dict:
        """The region edited by hand: draw it; blank goes back to the head finder's box."""
        if not readable(held):
            return unchanged(held)
        typed = parse_region(text)
        region = held.proposed if typed is None else ui_box.inside(typed, held.size)
        if region == held.region and held.corner is None and text == ui.region_field(region):
            return unchanged(held)
        return boxed(held, replace(held, region=region, corner=None))

    def cleared() -> dict:
        """Every output that shows what identify found, emptied: a new photo or a registration
        makes it stale, and nothing may be explained or registered against a stale result."""
        empty = {
            "decision": "",
            "region_note": "",
            "part": None,
            "matches": [],
            "table": [],
            "candidate": gr.Dropdown(choices=[], value=None),
            "found": None,
            "why": None,
            "why_text": "",
            "confirm": gr.Button(visible=False),
        }
        return {outputs[key]: value for key, value in empty.items()}

    def identified(args: dict, held: ui_box.QueryPhoto) -> dict:
        """Everything identify shows for these query arguments."""
        result = gallery.identify(**args)
        # The box drawn goes as a region, so the finder was not asked again: is it its box?
        head_found = result.head_found
        if head_found is None:
            head_found = held.found_for(result.region)
        if warning := ui.close_call(result, threshold, score_kind):
            gr.Warning(warning)
        choices = ui.candidates(result.matches)
        # The side-by-side view must see the part of the photo identify used: the head found.
        used = {**args, "region": result.region}
        return {
            outputs["region"]: ui.region_field(result.region),  # mistyped text undone
            outputs["part"]: ui_box.matched_part(held, result.region),
            outputs["matches"]: ui.match_items(result.matches),
            outputs["table"]: ui.match_rows(result.matches, score_kind, keypoints),
            outputs["decision"]: ui.decision_text(
                result, threshold, len(gallery), args["view"], score_kind
            ),
            outputs["region_note"]: ui.region_text(result.region, head_found),
            outputs["candidate"]: gr.Dropdown(choices=choices, value=ui.preselected(result)),
            outputs["found"]: {"query": used, "matches": result.matches},
        }

    @refused
    def identify(held, view, *limits):
        """`limits`: the site and dates typed under "Search only one site or dates"."""
        search = ui_records.search_limits(*limits)
        shown = identified({**query(held, view), **search}, held)
        if search and len(gallery) and not shown[outputs["found"]]["matches"]:
            shown[outputs["decision"]] = ui_records.NO_MATCH_IN_LIMITS
        return shown

    @ui_care.reported
    def show_why(turtle_id: str | None, found: dict | None):
        shown = found["matches"] if found else []
        match = next((m for m in shown if m.turtle_id == turtle_id), None)
        if match is None:
            return None, ""
        args = found["query"]
        why = gallery.explain(args["source"], args["name"], match.photo_id, args["region"])
        picture = side_by_side(why.query, why.gallery, why.match.pairs)
        return picture, ui.why_text(match, why.match.matches, why.match.inliers, score_kind)

    def pick_match(found: dict | None, event: gr.SelectData):
        """The turtle of a clicked thumbnail, or of a clicked cell's row in the table."""
        rank = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        return found["matches"][rank].turtle_id if found else None

    def register_new(
        held,
        view,
        new_id,
        found,
        date,
        site,
        observer,
        notes,
        request: gr.Request,
        confirmed=False,
    ):
        """Register as a new turtle; a likely duplicate is shown and waits for confirmed=True."""
        args = query(held, view)
        sighting = ui_records.sighting(date, site, observer, notes)
        try:
            turtle_id, _ = gallery.register(
                **args,
                turtle_id=new_id or None,
                new=True,
                confirmed=confirmed,
                sighting=sighting,
                user=ui_sighting.user_of(request),
            )
        except LikelyDuplicate as duplicate:
            gr.Warning(str(duplicate))
            likely = duplicate.match
            # Not identified yet: identify now, to show the likely duplicate side by side.
            shown = {} if found else identified(args, held)
            found = found or shown[outputs["found"]]
            choices = ui.candidates(found["matches"])
            return {
                **shown,
                outputs["decision"]: ui.duplicate_text(args["name"], likely, score_kind),
                outputs["candidate"]: gr.Dropdown(
                    choices=choices,
                    value=likely.turtle_id if likely.turtle_id in choices else None,
                ),
                outputs["confirm"]: gr.Button(visible=True),
            }
        return registered(args["name"], turtle_id, new=True)

    @refused
    def add_to(held, view, turtle_id, date, site, observer, notes, request: gr.Request):
        args = query(held, view)
        sighting = ui_records.sighting(date, site, observer, notes)
        if not turtle_id:
            raise gr.Error("no turtle chosen: identify the photo, then pick one of its matches")
        user = ui_sighting.user_of(request)
        turtle_id, _ = gallery.register(
            **args, turtle_id=turtle_id, new=False, sighting=sighting, user=user
        )
        return registered(args["name"], turtle_id, new=False)

    def registered(name: str, turtle_id: str, new: bool) -> dict:
        message = ui.registered_text(name, turtle_id, new, len(gallery.photos_of(turtle_id)))
        gr.Info(message)
        # The matches shown were found before this photo joined the gallery: clear them.
        # Empty the typed ID too: the same name cannot be used twice.
        return {**cleared(), outputs["decision"]: message, outputs["typed_id"]: ""}

    def refresh(chosen: str | None):
        rows = ui.individual_rows(gallery.individuals())
        ids = [row[0] for row in rows]
        chosen = chosen if chosen in ids else None
        return (
            summary(),
            rows,
            gr.Dropdown(choices=ids, value=chosen),
            photos_of(chosen),
            gr.Dropdown(choices=ids),
        )

    def photos_of(turtle_id: str | None):
        rows = gallery.photos_of(turtle_id) if turtle_id else []
        return [(str(gallery.preview_path(row)), ui.photo_caption(row)) for row in rows]

    def pick_row(event: gr.SelectData):
        return event.row_value[0]

    # Uploaded queries pile up in Gradio's cache on a long-running field laptop: hourly, drop
    # those over a day old (the gallery keeps its own copy of every registered photo).
    with gr.Blocks(title="Turtle ID", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# Turtle ID\nPhoto identification of individual sea turtles, offline.")
        status = gr.Markdown(summary())
        # What identify found, per browser session: {"query": its arguments, "matches": [Match]},
        # for the side-by-side view and the duplicate check.
        found = gr.State(None)
        # The photo dropped and its box (ui_box.QueryPhoto), per browser session.
        held = gr.State(None)
        with gr.Tab("Identify"):
            with gr.Row():
                with gr.Column(scale=2):
                    photo = gr.Image(
                        label="Query photo: the box is the part matched",
                        type="filepath",
                        sources=["upload", "clipboard"],
                        height=360,
                        buttons=[],  # no full screen: a click there would miss its mark
                        elem_id="query",
                    )
                    box_note = gr.Markdown(elem_id="box-note")
                    view = gr.Radio(list(ui.VIEW_CHOICES), value=ui.ANY_VIEW, label="View")
                    blank = "the head found, else the" if gallery.head_finder else "the"
                    region = gr.Textbox(
                        label="Region: x,y,w,h in pixels of the photo",
                        placeholder=f"e.g. 120,80,400,300; blank = {blank} whole photo",
                        elem_id="region",
                    )
                    limit_boxes = ui_sighting.search_limit_fields()
                    identify_button = gr.Button("Identify", variant="primary")
                    sighting_boxes = ui_sighting.sighting_fields(photo)
                with gr.Column(scale=3):
                    with gr.Row(equal_height=True):
                        part = gr.Image(
                            label="Matched part of the photo",
                            type="pil",
                            interactive=False,
                            height=160,
                            scale=1,
                            min_width=210,
                            buttons=[],
                            elem_id="matched-part",
                        )
                        with gr.Column(scale=4):
                            decision = gr.Markdown(elem_id="decision")
                            region_note = gr.Markdown(elem_id="region-note")
                    matches = gr.Gallery(
                        label="Best matches (choose one to see why)",
                        columns=5,
                        object_fit="cover",
                        fit_columns=False,  # fewer than five matches keep their size
                        allow_preview=False,  # a click picks the match for the view below
                        height="auto",
                        elem_id="matches",
                    )
                    table = gr.Dataframe(
                        headers=ui.match_headers(score_kind, keypoints),
                        interactive=False,
                        show_label=False,
                        elem_id="match-table",
                    )
                    with gr.Row():
                        with gr.Column():
                            candidate = gr.Dropdown(
                                label="Matched turtle", choices=[], elem_id="candidate"
                            )
                            add_button = gr.Button("Add to this turtle")
                        with gr.Column():
                            typed_id = gr.Textbox(
                                label="New turtle ID (optional)",
                                placeholder="blank = generated ID",
                                elem_id="new-id",
                            )
                            new_button = gr.Button("Register as new turtle")
                            confirm_button = gr.Button(
                                "Register anyway: it is a different turtle",
                                variant="stop",
                                visible=False,
                                elem_id="confirm-new",
                            )
                    ui_sighting.match_sightings_table(found)
            with gr.Row(elem_id="why-row"):
                why = gr.Image(
                    label="Why: query (left) and gallery photo (right), inlier keypoints joined",
                    type="pil",
                    interactive=False,
                    height=380,
                    scale=3,
                    elem_id="why",
                )
                why_text = gr.Markdown(elem_id="why-text")
        with gr.Tab("Individuals"):
            with gr.Row():
                with gr.Column(scale=2):
                    individuals = gr.Dataframe(
                        headers=ui.INDIVIDUAL_HEADERS,
                        interactive=False,
                        label="Individuals",
                        elem_id="individuals",
                    )
                    refresh_button = gr.Button("Refresh")
                with gr.Column(scale=3):
                    chosen = gr.Dropdown(label="Turtle", choices=[])
                    photos = gr.Gallery(
                        label="Photos", columns=4, object_fit="cover", elem_id="photos"
                    )
        rsm_ids = insights_tab(gallery)
        records = ui_care.records_tab(gallery)

        outputs = {
            "held": held,
            "photo": photo,
            "box_note": box_note,
            "region": region,
            "part": part,
            "decision": decision,
            "region_note": region_note,
            "matches": matches,
            "table": table,
            "candidate": candidate,
            "found": found,
            "why": why,
            "why_text": why_text,
            "confirm": confirm_button,
            "typed_id": typed_id,
        }
        listing = [status, individuals, chosen, photos, rsm_ids]
        explained = [why, why_text]
        inputs = [held, view]
        # Every event that reads or changes the photo held runs in one queue, in the order the
        # page sent them: identify pressed just after a drop sees the dropped photo's box.
        held_queue = dict(concurrency_id="query photo", concurrency_limit=1)

        photo.upload(dropped, photo, list(outputs.values()), preprocess=False, **held_queue)
        photo.clear(dropped, None, list(outputs.values()), **held_queue)
        photo.select(photo_clicked, held, list(outputs.values()), **held_queue)
        for edited in (region.submit, region.blur):
            edited(region_typed, [held, region], list(outputs.values()), **held_queue)
        identify_button.click(
            identify,
            [*inputs, *limit_boxes],
            list(outputs.values()),
            preprocess=False,
            **held_queue,
        ).success(show_why, [candidate, found], explained)
        for picked in (matches, table):
            picked.select(pick_match, found, candidate).success(
                show_why, [candidate, found], explained
            )
        candidate.input(show_why, [candidate, found], explained)

        for button, handler in (
            (new_button, refused(register_new)),
            (confirm_button, refused(ui_sighting.partial(register_new, confirmed=True))),
        ):
            done = button.click(
                handler,
                [*inputs, typed_id, found, *sighting_boxes],
                list(outputs.values()),
                preprocess=False,
                **held_queue,
            )
            done.success(show_why, [candidate, found], explained)
            done.success(refresh, chosen, listing)
        added = add_button.click(
            add_to,
            [*inputs, candidate, *sighting_boxes],
            list(outputs.values()),
            preprocess=False,
            **held_queue,
        )
        added.success(refresh, chosen, listing)
        for change in records.changed:
            change.success(refresh, chosen, listing)

        individuals.select(pick_row, None, chosen)
        chosen.change(photos_of, chosen, photos)
        refresh_button.click(refresh, chosen, listing)
        demo.load(refresh, chosen, listing)
    return demo


def main() -> None:
    def env(*names: str, default: str) -> str:
        return next((os.environ[n] for n in names if os.environ.get(n)), default)

    # The docstring's first paragraph: its first line alone stops mid-sentence.
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--gallery",
        type=Path,
        default=default_gallery_dir(),
        help="gallery folder (default: $TURTLE_ID_GALLERY, else one in the user's data folder)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="score for a match: a probability with a calibration, else a similarity "
        "(default: $TURTLE_ID_THRESHOLD, else the calibration's or the encoder's own)",
    )
    parser.add_argument(
        "--no-crop",
        action="store_true",
        help="do not look for the head in photos without a region: use the whole photo",
    )
    parser.add_argument(
        "--host",
        default=env("TURTLE_ID_HOST", "GRADIO_SERVER_NAME", default="127.0.0.1"),
        help="address to serve on, 0.0.0.0 for every interface ($TURTLE_ID_HOST)",
    )
    # A string default goes through type=int too, so a bad $TURTLE_ID_PORT is reported here.
    parser.add_argument(
        "--port",
        type=int,
        default=env("TURTLE_ID_PORT", "GRADIO_SERVER_PORT", default="7860"),
        help="port to serve on ($TURTLE_ID_PORT)",
    )
    args = parser.parse_args()
    try:
        users = load_users()
        hosting.check_host(args.host, users)
    except ValueError as error:
        parser.error(str(error))

    encoder = Encoder(default_encoder_path())
    match = MatchSettings() if args.threshold is None else MatchSettings(threshold=args.threshold)
    # As `python -m turtle_id enroll` does by default, so queries are cropped as the gallery.
    head_finder = None if args.no_crop else HeadFinder(default_head_finder_path())
    gallery = Gallery(args.gallery, encoder, match, head_finder=head_finder)
    rule = ui.thresholds_text(gallery.score_kind, gallery.threshold, gallery.review_threshold)
    print(
        f"gallery {gallery.root} ({ui.gallery_summary(len(gallery), len(gallery.individuals()))}), "
        f"encoder {default_encoder_path()} ({encoder.model_version} on {encoder.provider}), "
        f"{rule}, {'whole photos' if head_finder is None else 'cropped to the head found'}",
        flush=True,
    )
    print(f"{hosting.logins_text(users)}, uploads up to {MAX_UPLOAD_MB} MB", flush=True)
    build_ui(gallery).queue().launch(
        server_name=args.host,
        server_port=args.port,
        theme=THEME,
        css=CSS,
        # Only the previews are served; the catalogue and original photos stay private.
        allowed_paths=[str((gallery.root / "previews").resolve())],
        auth=users.verify if users else None,
        auth_message="Turtle ID: log in to identify turtles and keep the gallery.",
        max_file_size=f"{MAX_UPLOAD_MB}mb",
    )


if __name__ == "__main__":
    main()
