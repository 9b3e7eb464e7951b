"""Request and response bodies of REST API v1. Names may grow, never change."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    has_reference: bool = Field(
        default=False, description="an expert's complete reference mask is stored (used only to evaluate models)")
    created_at: datetime
    mask: MaskInfo | None = None


class StudiesPublic(BaseModel):
    data: list[StudyPublic]
    count: int


class PacsStudyRef(BaseModel):
    study_instance_uid: str
    series_instance_uid: str | None = None


class JobCreate(BaseModel):
    kind: Literal["train", "infer", "import", "evaluate", "rank", "export"]
    preset: Literal["tiny", "fast", "full"] | None = None
    seed: int | None = None
    study_ids: list[str] | None = Field(
        default=None, description="infer: the studies to segment; rank: the studies to rank (default: all)")
    model_id: str | None = Field(
        default=None, description="infer, evaluate: the model (default: active, else newest); export: the masks of "
                                  "this model (default: per study the active model's mask, else the newest)")
    format: Literal["nifti", "dicom-seg"] | None = Field(
        default=None, description="export: the masks as NIfTI (default) or DICOM SEG")
    server: str | None = Field(default=None, description="import: a configured DICOMweb server's name")
    studies: list[PacsStudyRef] | None = Field(
        default=None, description="import: the PACS studies to bring in (a series UID where a study has several)")


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
    format: str | None = Field(default=None, description="export: the masks' format (nifti or dicom-seg)")
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


class EvaluationSummary(BaseModel):
    mean_dice: float | None = Field(description="mean over organs of each organ's mean Dice; null if no study was scored")
    n_studies: int = Field(description="studies scored")
    n_excluded: int = Field(description="studies with a reference left out (exemplars the model was trained on)")
    evaluated_at: datetime


class EvaluationClass(BaseModel):
    name: str
    dice: float | None = Field(description="mean Dice over the studies where the organ is in the mask or the reference")
    hd95: float | None = Field(description="mean HD95 in mm over the studies where it is finite")
    hd95_missing: int = Field(description="studies where the organ is in only one of mask and reference (HD95 infinite)")
    n_studies: int


class EvaluationStudy(BaseModel):
    study_id: str
    name: str
    dice: dict[str, float | None] = Field(description="by label value; null: the organ is in neither mask nor reference")
    hd95: dict[str, float | None] = Field(description="mm, by label value; null: in neither, or in only one (Dice 0)")
    mean_dice: float | None
    reference_at: datetime | None = Field(description="when the reference mask scored against was stored")


class EvaluationSkipped(BaseModel):
    study_id: str
    name: str
    reason: str


class EvaluationPublic(BaseModel):
    """A model measured on the project's reference masks (docs/API.md)."""

    model_id: str
    job_id: str
    evaluated_at: datetime
    n_studies: int
    mean_dice: float | None
    mean_hd95: float | None
    classes: dict[str, EvaluationClass] = Field(description="by label value")
    studies: list[EvaluationStudy]
    failed: list[EvaluationSkipped] = Field(description="studies with a reference that could not be scored, and why")
    excluded: list[EvaluationSkipped] = Field(description="studies with a reference left out, and why")


# Which study to annotate (store/exemplars.py) ---------------------------------------------
class StudyRef(BaseModel):
    study_id: str
    name: str
    created_at: datetime


class NotRankedStudy(BaseModel):
    study_id: str
    name: str
    reason: str


class RankedStudy(BaseModel):
    study_id: str
    name: str
    rank: int = Field(description="1 = the best ranked study: the suggested exemplar")
    score: float = Field(description="typicality: mean image similarity (NCC) after registering the study onto a few other studies of the ranking; higher = maps better; compare within one ranking only")
    is_exemplar: bool = Field(description="the study carries an annotation now")


class ExemplarRankingPublic(BaseModel):
    """The newest succeeded ``rank`` job's answer to "which study should I annotate?" (docs/API.md)."""

    job_id: str
    ranked_at: datetime
    n_ranked: int = Field(description="studies the job ranked")
    suggested_study_id: str | None = Field(
        description="the best ranked study that still exists: annotate this one (null: all deleted since)")
    studies: list[RankedStudy] = Field(description="best first; studies deleted since are left out")
    not_ranked: list[NotRankedStudy] = Field(description="studies the job could not read, and why")
    added_since: list[StudyRef] = Field(description="studies uploaded after the ranking was asked for: not ranked")
    removed_since: list[str] = Field(description="ids of ranked studies deleted since")
    stale: bool = Field(description="studies were added or deleted since: rank again for an up-to-date answer")


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
    evaluation_summary: EvaluationSummary | None = Field(
        default=None, description="the model measured on reference masks (GET /models/{id}/evaluation); null: never")


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int


# DICOMweb (store/dicomweb.py) ---------------------------------------------------------
class DicomwebServersPublic(BaseModel):
    data: list[str]
    count: int


class DicomwebStudiesPublic(BaseModel):
    """QIDO-RS study matches: StudyInstanceUID, PatientID, PatientName, StudyDate, ..."""

    data: list[dict[str, Any]]
    count: int


class DicomwebSeriesPublic(BaseModel):
    """QIDO-RS series of one study: SeriesInstanceUID, Modality, SeriesDescription, ..."""

    data: list[dict[str, Any]]
    count: int


class DicomwebImport(BaseModel):
    server: str = Field(description="a configured DICOMweb server's name (GET /api/v1/dicomweb/servers)")
    study_instance_uid: str
    series_instance_uid: str | None = Field(
        default=None, description="needed when the study holds several image series")
    modality: str | None = Field(default=None, description="CT or MR (read from the DICOM when omitted)")


class DicomwebExport(BaseModel):
    server: str = Field(description="a configured DICOMweb server's name")
    model: str | None = Field(default=None, description="model version id (default: active, else newest)")


class DicomwebExportPublic(BaseModel):
    server: str
    model_id: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    derived_instances_sent: int


KeyRole = Literal["admin", "editor", "reader"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200, description="who or what uses the key, e.g. 'PACS bridge'")
    role: KeyRole | None = Field(
        default=None,
        description='"reader" (GET only), "editor" (the default: also change and delete projects and their data), '
                    '"admin" (also manage keys, read the audit trail)')
    project_ids: list[str] | None = Field(
        default=None, max_length=1000,
        description="limit the key to these projects (it gets 404 for any other); omitted or empty = all projects")
    is_admin: bool = Field(default=False, description='as in earlier versions: true is the same as "role": "admin"')

    @model_validator(mode="after")
    def _consistent(self) -> ApiKeyCreate:
        if self.is_admin and self.role not in (None, "admin"):
            raise ValueError(f'"is_admin": true asks for an admin key but "role" is {self.role!r}: send one of them')
        return self

    @property
    def granted_role(self) -> str:
        return self.role or ("admin" if self.is_admin else "editor")


class ApiKeyPublic(BaseModel):
    """A key as listed: never its value or hash; ``prefix`` (its first 12 characters) identifies it."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str
    role: KeyRole
    project_ids: list[str] | None = Field(description="the projects the key is limited to; null = all projects")
    is_admin: bool = Field(description='role == "admin" (kept for clients of earlier versions)')
    created_at: datetime
    revoked_at: datetime | None


class ApiKeysPublic(BaseModel):
    data: list[ApiKeyPublic]
    count: int


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the key itself, shown this once only: store it now")


# Webhooks (store/webhooks.py, docs/webhooks.md) ------------------------------------------
class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, description="http(s) address the hospital's server listens on")
    events: list[str] | None = Field(
        default=None, description='any of "job.succeeded", "job.failed", "job.cancelled" (default: all)')


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    url: str
    events: list[str]
    created_at: datetime
    disabled_at: datetime | None


class WebhookCreated(WebhookPublic):
    """The creation response: the only time the signing secret is shown."""

    secret: str = Field(description="HMAC-SHA256 key of X-Elsnet-Signature; store it now, it is never shown again")


class WebhooksPublic(BaseModel):
    data: list[WebhookPublic]
    count: int


class WebhookDeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    webhook_id: str
    event: str
    job_id: str
    state: str = Field(description="pending, delivered or failed (gave up after the last attempt)")
    attempts: int
    next_attempt_at: datetime | None = Field(description="when a pending delivery is tried next")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


class WebhookDeliveriesPublic(BaseModel):
    data: list[WebhookDeliveryPublic]
    count: int


# Audit trail (store/audit.py) --------------------------------------------------------------
class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    action: str
    method: str
    path: str
    status_code: int
    api_key_id: str | None
    key_prefix: str | None
    project_id: str | None
    client: str | None


class AuditEventsPublic(BaseModel):
    data: list[AuditEventPublic]
    count: int
