"""Which reference masks an evaluation of a model may use: never an exemplar it was trained on."""

from __future__ import annotations

from store.models import Model, Study
from store.references import exclusion_reason


def _study(sid: str, annotated: bool) -> Study:
    return Study(id=sid, annotation_key="projects/p/studies/x/annotation/a.nii.gz" if annotated else None)


def test_exemplars_the_model_was_trained_on_are_left_out() -> None:
    model = Model(id="m", exemplar_study_ids=["ex"])
    reason = exclusion_reason(model, _study("ex", annotated=True))
    assert reason is not None and "exemplar the model was trained on" in reason
    # a study annotated after this model was trained was not its training data
    assert exclusion_reason(model, _study("later", annotated=True)) is None
    assert exclusion_reason(model, _study("plain", annotated=False)) is None


def test_a_model_without_a_record_of_its_exemplars_leaves_out_every_annotated_study() -> None:
    unknown = Model(id="m", exemplar_study_ids=[])
    reason = exclusion_reason(unknown, _study("a", annotated=True))
    assert reason is not None and "does not record which exemplars" in reason
    assert exclusion_reason(unknown, _study("b", annotated=False)) is None
