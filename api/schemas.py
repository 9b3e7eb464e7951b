"""Request and response bodies of REST API v1. Names may grow, never change."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    labels: dict[str, str] = Field(description='organ names by label value, e.g. {"1": "liver"}')
    colors: dict[str, str] | None = Field(default=None, description='"#rrggbb" by label value')
    auto_segment: bool = False


class ProjectUpdate(BaseModel):
    active_model_id: str | None = None
    auto_segment: bool | None = None
    colors: dict[str, str] | None = None


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    labels: dict[str, str]
    colors: dict[str, str]
    auto_segment: bool
    active_model_id: str | None
    created_at: datetime
    study_count: int = 0


class ProjectsPublic(BaseModel):
    data: list[ProjectPublic]
    count: int


class MaskInfo(BaseModel):
    model_id: str
    confidence: float | None
    created_at: datetime


class StudyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    name: str
    modality: str
    source_format: str
    shape: list[int]
    spacing: list[float]
    sha256: str
    size_bytes: int
    is_exemplar: bool
    annotated_slices: int | None
    created_at: datetime
    mask: MaskInfo | None = None


class StudiesPublic(BaseModel):
    data: list[StudyPublic]
    count: int


class JobCreate(BaseModel):
    kind: Literal["train", "infer"]
    preset: Literal["tiny", "fast", "full"] | None = None
    seed: int | None = None
    study_ids: list[str] | None = None
    model_id: str | None = None


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    kind: str
    state: str
    progress: float
    stage: str | None
    eta_s: float | None
    error: str | None
    model_id: str | None
    preset: str | None = None
    attempts: int
    metrics: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class JobEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    t: datetime
    stage: str | None
    progress: float
    eta_s: float | None
    metrics: dict[str, Any]
    message: str | None


class JobEventsPublic(BaseModel):
    data: list[JobEventPublic]
    count: int


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    job_id: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    exemplar_study_ids: list[str]
    created_at: datetime
    is_active: bool = False


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int
