"""The web app's Insights tab: how well the gallery's turtles are told apart (the RSM of their
photos) and the evidence the match probabilities were calibrated on (score histograms)."""

import gradio as gr
import matplotlib.pyplot as plt

from turtle_id import plots, ui
from turtle_id.gallery import Gallery


def handed_over(figure):
    """Close a figure as it goes to gr.Plot, which draws it later: pyplot keeps every open
    figure otherwise, and a long-running app would leak one per plot (savefig still works)."""
    plt.close(figure)
    return figure


def insights_tab(gallery: Gallery) -> gr.Dropdown:
    """Build the tab inside the gr.Blocks being built; returns its dropdown of turtles, whose
    choices the app refreshes as turtles are registered."""
    threshold, review_threshold = gallery.threshold, gallery.review_threshold

    def insights(chosen: list[str] | None):
        every = [turtle_id for turtle_id, _, _ in gallery.individuals()]
        ids, note = ui.rsm_individuals(chosen, every)
        vectors, labels = gallery.embeddings_of(ids)
        rsm = None
        if len(labels) >= 2:
            rsm = handed_over(plots.rsm_figure(vectors, labels))
        else:
            note = "The RSM needs at least two gallery photos: register more turtles."
        fusion = gallery.fusion
        evidence = (fusion.genuine, fusion.impostor) if fusion else ((), ())
        scores = None
        if any(evidence):
            marks = {"new": review_threshold, "match": threshold}
            figure = plots.score_histograms(*evidence, marks, xlabel="match probability")
            scores = handed_over(figure)
        counts = [len(e) for e in evidence]
        fitted_on = fusion.fitted_on if fusion else ""
        text = ui.scores_note(fusion is not None, *counts, fitted_on, threshold, review_threshold)
        # Hidden, not an empty frame, when there is nothing to plot.
        return rsm, note, gr.Plot(value=scores, visible=scores is not None), text

    with gr.Tab("Insights") as tab:
        gr.Markdown(
            "The similarity of every gallery photo with every other, grouped by turtle: "
            "bright squares on the diagonal are turtles whose photos agree, bright squares "
            "off it are turtles that are easily confused."
        )
        rsm_ids = gr.Dropdown(
            label="Turtles to compare (blank = all)",
            choices=[],
            multiselect=True,
            elem_id="rsm-ids",
        )
        rsm_note = gr.Markdown()
        with gr.Row():
            # The figures carry their own titles: a label would sit on top of them.
            rsm = gr.Plot(show_label=False, format="png", elem_id="rsm")
            with gr.Column():
                scores = gr.Plot(show_label=False, format="png", elem_id="scores")
                scores_text = gr.Markdown(elem_id="scores-text")
    shown = [rsm, rsm_note, scores, scores_text]
    tab.select(insights, rsm_ids, shown)
    rsm_ids.change(insights, rsm_ids, shown)
    return rsm_ids
