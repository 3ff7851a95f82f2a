"""Turtle ID in the browser: identify a turtle photo against the gallery, register new turtles.

    python app.py [--gallery DIR] [--host 127.0.0.1] [--port 7860]

Runs offline, as in the field: no analytics, no update checks, and the page loads nothing from
outside the machine (system fonts only).
"""

import argparse
import functools
import os
from pathlib import Path

# Each library reads its switch when first imported, so these come before the imports below:
# Gradio's analytics and update check, Hugging Face Hub's telemetry, and onnxruntime's (without
# it, onnxruntime looks up mobile.events.data.microsoft.com about 10 s after a session starts).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import gradio as gr  # noqa: E402

from turtle_id import ui  # noqa: E402
from turtle_id.encoder import Encoder  # noqa: E402
from turtle_id.gallery import Gallery  # noqa: E402
from turtle_id.photo import parse_region  # noqa: E402
from turtle_id.settings import default_encoder_path, default_gallery_dir  # noqa: E402

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
"""


def reported(handler):
    """Show the package's errors (bad photo, bad name: they say the fix) in the page."""

    @functools.wraps(handler)
    def wrapped(*args):
        try:
            return handler(*args)
        except gr.Error:  # a ValueError too, and already worded for the page
            raise
        except (ValueError, OSError) as error:
            raise gr.Error(str(error)) from None

    return wrapped


def build_ui(gallery: Gallery) -> gr.Blocks:
    threshold = gallery.threshold
    # With a fitted fusion (turtle_id/fusion.py) a match's score is a probability, not a cosine.
    score_name = "match probability" if getattr(gallery, "fusion", None) else "similarity"

    def summary() -> str:
        state = ui.gallery_summary(len(gallery), len(gallery.individuals()))
        return f"Gallery `{gallery.root}`: {state} · match threshold {threshold:.2f}"

    def query(photo: dict | None, view: str, region: str) -> dict:
        """Gallery.identify/register arguments from the raw inputs (events run with
        preprocess=False: the package, not Gradio, decodes the photo, so EXIF orientation and
        the file's hash survive and an unreadable file is reported with its fix)."""
        if not photo:
            raise gr.Error(NO_PHOTO)
        name = photo.get("orig_name") or Path(photo["path"]).name
        source = Path(photo["path"])
        return dict(source=source, name=name, view=ui.view_of(view), region=parse_region(region))

    @reported
    def identify(photo, view, region):
        args = query(photo, view, region)
        result = gallery.identify(**args)
        if warning := ui.close_call(result, threshold):
            gr.Warning(warning)
        choices = ui.candidates(result.matches)
        return (
            ui.match_items(result.matches),
            ui.decision_text(result, threshold, len(gallery), args["view"], score_name),
            gr.Dropdown(choices=choices, value=choices[0] if choices else None),
        )

    @reported
    def register_new(photo, view, region, new_id):
        args = query(photo, view, region)
        turtle_id, _ = gallery.register(**args, turtle_id=new_id or None, new=True)
        return registered(args["name"], turtle_id, new=True)

    @reported
    def add_to(photo, view, region, turtle_id):
        args = query(photo, view, region)
        if not turtle_id:
            raise gr.Error("no turtle chosen: identify the photo, then pick one of its matches")
        turtle_id, _ = gallery.register(**args, turtle_id=turtle_id, new=False)
        return registered(args["name"], turtle_id, new=False)

    def registered(name: str, turtle_id: str, new: bool):
        message = ui.registered_text(name, turtle_id, new, len(gallery.photos_of(turtle_id)))
        gr.Info(message)
        return message

    def refresh(chosen: str | None):
        rows = ui.individual_rows(gallery.individuals())
        ids = [row[0] for row in rows]
        chosen = chosen if chosen in ids else None
        return summary(), rows, gr.Dropdown(choices=ids, value=chosen), photos_of(chosen)

    def after_registering(chosen: str | None):
        return "", *refresh(chosen)  # empty the typed ID: the same name cannot be used twice

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
        with gr.Tab("Identify"):
            with gr.Row():
                with gr.Column(scale=2):
                    photo = gr.Image(
                        label="Query photo",
                        type="filepath",
                        sources=["upload", "clipboard"],
                        height=360,
                        elem_id="query",
                    )
                    view = gr.Radio(list(ui.VIEW_CHOICES), value=ui.ANY_VIEW, label="View")
                    region = gr.Textbox(
                        label="Region (optional)",
                        placeholder="x,y,w,h in pixels, e.g. 120,80,400,300; blank = whole photo",
                    )
                    identify_button = gr.Button("Identify", variant="primary")
                with gr.Column(scale=3):
                    decision = gr.Markdown(elem_id="decision")
                    matches = gr.Gallery(
                        label="Best matches",
                        columns=5,
                        object_fit="cover",
                        fit_columns=False,  # fewer than five matches keep their size
                        height="auto",
                        elem_id="matches",
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
        with gr.Tab("Individuals"):
            with gr.Row():
                with gr.Column(scale=2):
                    table = gr.Dataframe(
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

        listing = [status, table, chosen, photos]
        results = [matches, decision, candidate]
        # A new photo makes the shown matches stale: clear them so none is registered by mistake.
        photo.change(lambda: ([], "", gr.Dropdown(choices=[], value=None)), None, results)
        inputs = [photo, view, region]
        identify_button.click(identify, inputs, results, preprocess=False)
        new_button.click(register_new, [*inputs, typed_id], decision, preprocess=False).success(
            after_registering, chosen, [typed_id, *listing]
        )
        add_button.click(add_to, [*inputs, candidate], decision, preprocess=False).success(
            after_registering, chosen, [typed_id, *listing]
        )
        table.select(pick_row, None, chosen)
        chosen.change(photos_of, chosen, photos)
        refresh_button.click(refresh, chosen, listing)
        demo.load(refresh, chosen, listing)
    return demo


def main() -> None:
    def env(*names: str, default: str) -> str:
        return next((os.environ[n] for n in names if os.environ.get(n)), default)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gallery",
        type=Path,
        default=default_gallery_dir(),
        help="gallery folder (default: $TURTLE_ID_GALLERY, else one in the user's data folder)",
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

    encoder = Encoder(default_encoder_path())
    gallery = Gallery(args.gallery, encoder)
    print(
        f"gallery {gallery.root} ({ui.gallery_summary(len(gallery), len(gallery.individuals()))}), "
        f"encoder {default_encoder_path()} ({encoder.model_version} on {encoder.provider}), "
        f"threshold {gallery.threshold:.2f}",
        flush=True,
    )
    build_ui(gallery).queue().launch(
        server_name=args.host,
        server_port=args.port,
        theme=THEME,
        css=CSS,
        # Only the previews are served; the catalogue and original photos stay private.
        allowed_paths=[str((gallery.root / "previews").resolve())],
    )


if __name__ == "__main__":
    main()
