"""Domain errors of the service layer. ``api/errors.py`` maps each class to one HTTP status.

ServiceError
├── BadInput            422  the request's data is wrong; the message says what to fix
│   └── UnreadableImage 422  an upload that is not a readable NIfTI/DICOM volume
├── Forbidden           403  the API key may not do this (e.g. an admin key is needed)
├── NotFound            404
├── Conflict            409  the request clashes with the current state
├── Gone                410  it existed but was removed on purpose (e.g. an expired export)
├── PayloadTooLarge     413
├── Unavailable         503  a dependency (database, broker, storage) is unreachable
└── UpstreamError       502  a configured remote server (DICOMweb) failed or refused
"""


class ServiceError(Exception):
    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadInput(ServiceError):
    status_code = 422


class UnreadableImage(BadInput):
    pass


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Gone(ServiceError):
    status_code = 410


class PayloadTooLarge(ServiceError):
    status_code = 413


class Unavailable(ServiceError):
    status_code = 503


class UpstreamError(ServiceError):
    status_code = 502


class Forbidden(ServiceError):
    status_code = 403
