"""Files (`/api/v1/upload`, `/api/v1/files`) and users' avatars (`/api/v1/users/{id}/avatar`).

Uploads are multipart (`file`), read by the route itself once the caller is authenticated
(no `File()` parameter: FastAPI would parse the whole form to temporary files before
authenticating). The part's bytes go to the provider as they arrive, never spooled, never
whole in memory, sniffed, counted and hashed on the way; the body is bounded by the route's
`@body_limit` before any of it is read.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.domain.files.filenames import content_disposition
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.interfaces.http.auth import CurrentPrincipal, require
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.body_limit import BodyLimit, body_limit
from api.interfaces.http.multipart import FilePart, read_file_part
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.files import FileOut
from api.interfaces.http.schemas.identity.auth import UserOut
from api.usecases.files.delete_file import DeleteFile
from api.usecases.files.describe_profiles import DescribeProfiles
from api.usecases.files.file_store import Upload
from api.usecases.files.get_file import GetFile
from api.usecases.files.open_local_download import OpenLocalDownload
from api.usecases.files.set_avatar import SetAvatar
from api.usecases.files.store_upload import StoreUpload
from api.usecases.files.tenant_logo import OpenTenantLogo

router = APIRouter(tags=["files"])

_UPLOAD = problem_responses(401, 403, 413, 415, 422, 503)
_BYTES: dict[str, Any] = {"content": {"application/octet-stream": {}}}
_IMAGE: dict[str, Any] = {
    "content": {t: {} for t in ("image/png", "image/jpeg", "image/gif", "image/webp")}
}
LinkPart = Annotated[str | None, Query(include_in_schema=True)]
# The body the routes read themselves, as FastAPI would document a `File()` parameter.
_MULTIPART_FILE: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "title": "FileUpload",
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                            "title": "File",
                            "description": "The file (multipart field `file`).",
                        }
                    },
                }
            }
        },
    }
}


def upload_of(part: FilePart) -> Upload:
    return Upload(filename=part.filename, chunks=part.chunks)


@router.post(
    "/upload",
    status_code=201,
    summary="Upload a file",
    description=(
        "Needs `files:write`. Multipart field `file`. The type is sniffed from the content "
        "(the declared type is ignored) and must be allowed (else 415); larger than "
        "`MAX_UPLOAD_BYTES` is 413 (a body announcing more is refused before it is read). "
        "The caller is authenticated before the body is read. Answers the file with a "
        "signed, expiring download URL."
    ),
    responses=_UPLOAD,
    openapi_extra=_MULTIPART_FILE,
)
@body_limit(BodyLimit.UPLOAD)
async def upload(
    request: Request,
    principal: Annotated[Principal, require(Permission.FILES_WRITE)],
    use_case: Annotated[StoreUpload, Inject(StoreUpload)],
) -> FileOut:
    part = await read_file_part(request)
    async with aclosing(part.chunks):
        return FileOut.of(await use_case.execute(principal, upload_of(part)))


@router.get(
    "/files/download",
    summary="Download a file of the local provider (signed link)",
    description=(
        "The signed link is the credential: no bearer token and no tenant header are "
        "needed. A tampered or expired link is 403. Answers the bytes as an attachment."
    ),
    response_class=StreamingResponse,
    responses={**problem_responses(403, 404, 503), 200: _BYTES},
    openapi_extra=NO_TENANT,
)
async def download(
    request: Request,
    use_case: Annotated[OpenLocalDownload, Inject(OpenLocalDownload)],
    tenant: LinkPart = None,
    key: LinkPart = None,
    exp: LinkPart = None,
    filename: LinkPart = None,
    type: LinkPart = None,
    sig: LinkPart = None,
) -> StreamingResponse:
    found = await use_case.execute(dict(request.query_params))
    return StreamingResponse(
        found.chunks,
        media_type=found.content_type,
        headers={
            "Content-Disposition": content_disposition(found.filename),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/tenant-logos/{tenant_id}",
    summary="A tenant's logo (public)",
    description=(
        "The company profile's logo (`logo_file_id`), for anyone: the emails sent for the "
        "tenant show it from here, and mail clients fetch images without credentials. No "
        "token and no tenant header. 404 when the tenant has no logo; an unknown tenant is "
        "404, a suspended one 403. Nothing but the logo is readable this way. The bytes "
        "come with the logo's type (png, jpeg, gif or webp)."
    ),
    response_class=StreamingResponse,
    responses={**problem_responses(400, 403, 404, 503), 200: _BYTES},
    openapi_extra=NO_TENANT,
)
async def tenant_logo(
    tenant_id: str, use_case: Annotated[OpenTenantLogo, Inject(OpenTenantLogo)]
) -> StreamingResponse:
    found = await use_case.execute(tenant_id)
    return StreamingResponse(
        found.chunks,
        media_type=found.content_type,
        headers={
            "Content-Disposition": content_disposition(found.filename, "inline"),
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/files/{file_id}",
    summary="Read a file's metadata, with a fresh signed URL",
    description="Needs `files:read`. Another tenant's file is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_file(
    file_id: str,
    principal: Annotated[Principal, require(Permission.FILES_READ)],
    use_case: Annotated[GetFile, Inject(GetFile)],
) -> FileOut:
    return FileOut.of(await use_case.execute(principal, file_id))


@router.delete(
    "/files/{file_id}",
    status_code=204,
    summary="Delete a file",
    description=(
        "Needs `files:write`. Deletes the stored bytes, then the metadata. A user's avatar "
        "is replaced through the avatar route (409 here)."
    ),
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def delete_file(
    file_id: str,
    principal: Annotated[Principal, require(Permission.FILES_WRITE)],
    use_case: Annotated[DeleteFile, Inject(DeleteFile)],
) -> Response:
    await use_case.execute(principal, file_id)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/avatar",
    tags=["users"],
    summary="Set a user's avatar",
    description=(
        "Your own, or anyone's with `users:write` (and every permission they hold). "
        "Multipart field `file`: png, jpeg, gif or webp (sniffed; else 415), within "
        "`MAX_AVATAR_BYTES` (else 413; a body announcing more is refused before it is "
        "read). The old avatar is removed. Answers the user, whose `avatar_url` is a "
        "signed, expiring URL."
    ),
    responses=problem_responses(401, 403, 404, 413, 415, 422, 503),
    openapi_extra=_MULTIPART_FILE,
)
@body_limit(BodyLimit.AVATAR)
async def set_avatar(
    request: Request,
    user_id: str,
    principal: CurrentPrincipal,
    use_case: Annotated[SetAvatar, Inject(SetAvatar)],
    describe: Annotated[DescribeProfiles, Inject(DescribeProfiles)],
) -> UserOut:
    part = await read_file_part(request)
    async with aclosing(part.chunks):
        user = await use_case.execute(principal, user_id, upload_of(part))
    [(view, avatar_url)] = await describe.execute([user])
    return UserOut.of(view, avatar_url)
