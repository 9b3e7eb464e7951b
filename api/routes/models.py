from __future__ import annotations

import shutil

from fastapi import APIRouter
from fastapi.responses import FileResponse
from sqlalchemy import select
from starlette.background import BackgroundTask

from api.deps import ModelDep, ProjectDep, SessionDep
from api.schemas import EvaluationPublic, EvaluationSummary, ModelPublic, ModelsPublic
from store import references, services, volumes
from store.models import Model, Project
from store.settings import get_settings
from store.storage import get_store

router = APIRouter(tags=["models"])


def model_public(session, model: Model) -> ModelPublic:
    out = ModelPublic.model_validate(model)
    project = session.get(Project, model.project_id)
    active = project.active_model_id or services.newest_model_id(session, project.id)
    out.is_active = active == model.id
    summary = references.summary(model)
    out.evaluation_summary = EvaluationSummary.model_validate(summary) if summary else None
    return out


@router.get("/api/v1/projects/{project_id}/models", response_model=ModelsPublic)
def list_models(project: ProjectDep, session: SessionDep) -> ModelsPublic:
    models = session.scalars(select(Model).where(Model.project_id == project.id).order_by(Model.created_at.desc())).all()
    return ModelsPublic(data=[model_public(session, m) for m in models], count=len(models))


@router.get("/api/v1/models/{model_id}", response_model=ModelPublic)
def read_model(model: ModelDep, session: SessionDep) -> ModelPublic:
    return model_public(session, model)


@router.get("/api/v1/models/{model_id}/evaluation", response_model=EvaluationPublic)
def read_evaluation(model: ModelDep) -> EvaluationPublic:
    """The model measured on the project's reference masks: per organ, per study, excluded studies."""
    return EvaluationPublic.model_validate(references.require_evaluation(model))


@router.get("/api/v1/models/{model_id}/artifact", response_class=FileResponse)
def model_artifact(model: ModelDep) -> FileResponse:
    """The model folder as .tar.gz (unpack, then ``elsnet predict --model model/``)."""
    tmp = volumes.scratch_dir(get_settings().work / "downloads")
    path = get_store().get_to_path(model.artifact_key, tmp / f"elsnet-model-{model.id}.tar.gz")
    return FileResponse(path, media_type="application/gzip", filename=path.name,
                        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))
