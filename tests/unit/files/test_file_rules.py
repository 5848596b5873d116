"""File and storage rules (uploads, settings, avatars, download links) with fakes of ports."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import cast

import pytest

from api.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MalwareDetected,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from api.domain.files.scanning import MalwareScanner
from api.domain.files.storage import (
    DEFAULT_CONFIG_ID,
    StorageConfig,
    StorageProvider,
)
from api.domain.plans import LimitName
from api.domain.tenancy import TenantId, tenant_context
from api.domain.tenants.tenant import Tenant
from api.infrastructure.scanning.clamd import NoMalwareScanner
from api.usecases.files.delete_file import DeleteFile
from api.usecases.files.describe_profiles import DescribeProfiles
from api.usecases.files.file_store import FileStore, Upload
from api.usecases.files.get_file import GetFile
from api.usecases.files.open_local_download import OpenLocalDownload
from api.usecases.files.rules import StoragePolicy
from api.usecases.files.set_avatar import SetAvatar
from api.usecases.files.storages import Storages
from api.usecases.files.store_upload import StoreUpload
from api.usecases.files.update_storage_settings import UpdateStorageSettings
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.describe_users import DescribeUsers
from api.usecases.kernel.plan_gate import PlanGate, Reservation
from api.usecases.kernel.tenancy import ResolveTenant
from tests.fakes.audit import FakeAuditLog
from tests.fakes.plans import UnlimitedGate, unlimited_gate
from tests.fakes.storage import (
    FakeBlobs,
    FakeConfigs,
    FakeFactory,
    FakeFiles,
    FakeLinks,
    FakeScanner,
    sanitize,
    sniff,
)
from tests.fakes.tenants import FakeDirectory
from tests.support.identity import TENANT, World, principal, user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
EXE = b"MZ\x90\x00" + b"\x00" * 100
POLICY = StoragePolicy(
    max_upload_bytes=100_000,
    max_avatar_bytes=500,
    allowed_content_types=frozenset({"image/png", "text/plain"}),
    signed_url_ttl_seconds=60,
)
WRITER = principal("writer", {"files:read", "files:write"})
READER = principal("reader", {"files:read"})
MANAGER = principal("boss", {"storage:manage"})


@dataclass
class Shelf:
    """The ports of the file use cases, wired together."""

    factory: FakeFactory
    configs: FakeConfigs
    files: FakeFiles
    audit: FakeAuditLog

    scanner: MalwareScanner = field(default_factory=NoMalwareScanner)

    @property
    def store(self) -> FileStore:
        storages = Storages(self.factory, self.configs)
        return FileStore(storages, self.files, sniff, sanitize, POLICY, self.scanner)

    @property
    def local(self) -> FakeBlobs:
        return self.factory.locations[StorageProvider.LOCAL]


@pytest.fixture
def shelf() -> Iterator[Shelf]:
    with tenant_context(TenantId(TENANT)):
        yield Shelf(FakeFactory(), FakeConfigs(), FakeFiles(), FakeAuditLog())


def upload(data: bytes, filename: str = "a.png", *, chunk: int = 64) -> Upload:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    return Upload(filename=filename, chunks=chunks())


def store_upload(shelf: Shelf) -> StoreUpload:
    return StoreUpload(shelf.store, Auditor(shelf.audit), POLICY, unlimited_gate())


# -- uploads ---------------------------------------------------------------------------------


async def test_an_upload_is_sniffed_hashed_keyed_by_uuid_and_recorded(shelf: Shelf) -> None:
    data = PNG + b"x" * 500
    found = await store_upload(shelf).execute(WRITER, upload(data, "../../etc/passwd.png"))
    file = found.file
    assert file.content_type == "image/png" and file.size == len(data)
    assert file.sha256 == hashlib.sha256(data).hexdigest()
    assert file.filename == "passwd.png" and file.owner_id == "writer"
    prefix = f"tenants/{TENANT}/"
    assert file.key.startswith(prefix) and len(file.key) == len(prefix) + 32
    assert "passwd" not in file.key
    assert file.config_id == "default:local" and file.purpose == "upload"
    assert shelf.local.blobs[file.key] == data
    assert found.url.url == f"local://{file.key}?ttl=60"
    assert [e.action for e in shelf.audit.entries] == ["file.uploaded"]


async def test_the_clients_name_does_not_decide_the_type(shelf: Shelf) -> None:
    with pytest.raises(UnsupportedMediaType):
        await store_upload(shelf).execute(WRITER, upload(EXE, "cat.png"))
    assert shelf.local.blobs == {} and shelf.files.files == {}


async def test_too_large_stops_the_stream_and_deletes_the_partial_blob(shelf: Shelf) -> None:
    with pytest.raises(PayloadTooLarge):  # past the first chunks: while streaming
        await store_upload(shelf).execute(WRITER, upload(PNG + b"x" * 150_000, chunk=8192))
    assert shelf.local.blobs == {} and len(shelf.local.deleted) == 1
    assert shelf.files.files == {}


async def test_too_large_stays_413_when_the_adapter_wraps_the_error(shelf: Shelf) -> None:
    shelf.local.fail_put = ServiceUnavailable("file storage")
    with pytest.raises(PayloadTooLarge):
        await store_upload(shelf).execute(WRITER, upload(PNG + b"x" * 150_000, chunk=8192))
    assert shelf.local.blobs == {}


async def test_a_known_size_over_the_limit_is_refused_before_reading(shelf: Shelf) -> None:
    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("read")
        yield b""

    with pytest.raises(PayloadTooLarge):
        await store_upload(shelf).execute(WRITER, Upload("a.png", never(), size_hint=100_001))


async def test_a_file_the_scanner_flags_is_refused_and_leaves_nothing(shelf: Shelf) -> None:
    shelf.scanner = scanner = FakeScanner()
    clean = PNG + b"x" * 20_000
    stored = await store_upload(shelf).execute(WRITER, upload(clean, chunk=4096))
    assert bytes(scanner.scans[0].fed) == clean  # every byte, in order, in one pass
    assert stored.file.size == len(clean)
    with pytest.raises(MalwareDetected) as caught:
        await store_upload(shelf).execute(WRITER, upload(PNG + b"..EICAR..", chunk=4))
    assert caught.value.threat == "Eicar-Test-Signature"
    assert list(shelf.files.files) == [stored.file.id]
    assert list(shelf.local.blobs) == [stored.file.key] and len(shelf.local.deleted) == 1


async def test_a_scanner_that_fails_keeps_nothing_and_limits_the_size(shelf: Shelf) -> None:
    shelf.scanner = scanner = FakeScanner(max_bytes=2_000)
    scanner.down = True
    with pytest.raises(ServiceUnavailable):
        await store_upload(shelf).execute(WRITER, upload(PNG + b"x" * 100))
    assert shelf.local.blobs == {} and shelf.local.deleted == []  # nothing was written
    scanner.down, scanner.fail_verdict = False, True
    with pytest.raises(ServiceUnavailable):
        await store_upload(shelf).execute(WRITER, upload(PNG + b"x" * 100))
    assert shelf.local.blobs == {} and shelf.files.files == {} and scanner.scans[-1].aborted
    scanner.fail_verdict = False
    with pytest.raises(PayloadTooLarge) as caught:  # the scanner's limit, under POLICY's
        await store_upload(shelf).execute(WRITER, upload(PNG + b"x" * 5_000, chunk=512))
    assert caught.value.limit == 2_000 and shelf.local.blobs == {}
    # Parley's own files are not scanned, and keep their own limit.
    kept = await shelf.store.store(
        upload(PNG + b"EICAR" + b"x" * 5_000), purpose="contact_export", owner_id="e1",
        allowed=frozenset({"image/png"}), max_bytes=100_000, scan=False,
    )  # fmt: skip
    assert kept.size == len(PNG) + 5_005 and len(scanner.scans) == 1  # the failed one


class RoomyPlan(UnlimitedGate):
    """A plan with a storage limit and room for whatever is asked."""

    async def limit(self, name: LimitName) -> int | None:
        return 10_000_000

    async def reserve(
        self, name: LimitName, amount: int, *, least: int | None = None
    ) -> Reservation:
        return Reservation("r1", amount)


async def test_the_scanners_limit_is_413_not_the_plans_402_and_threats_are_audited(
    shelf: Shelf,
) -> None:
    shelf.scanner = FakeScanner(max_bytes=2_000)
    uploads = StoreUpload(shelf.store, Auditor(shelf.audit), POLICY, cast(PlanGate, RoomyPlan()))
    data = PNG + b"x" * 5_000
    sized = Upload(filename="a.png", chunks=upload(data).chunks, size_hint=len(data))
    with pytest.raises(PayloadTooLarge) as caught:
        await uploads.execute(WRITER, sized)
    assert type(caught.value) is PayloadTooLarge and caught.value.limit == 2_000
    with pytest.raises(MalwareDetected):
        await uploads.execute(WRITER, upload(PNG + b"EICAR"))
    [refused] = shelf.audit.entries
    assert refused.action == "file.refused" and refused.changes["threat"] == "Eicar-Test-Signature"


async def test_empty_files_and_failed_writes_leave_nothing(shelf: Shelf) -> None:
    with pytest.raises(InvalidInput):
        await store_upload(shelf).execute(WRITER, upload(b""))
    shelf.files.fail_add = True
    with pytest.raises(ServiceUnavailable):
        await store_upload(shelf).execute(WRITER, upload(PNG))
    assert shelf.local.blobs == {} and len(shelf.local.deleted) == 1


async def test_files_are_read_through_the_version_they_were_written_with(shelf: Shelf) -> None:
    old = await store_upload(shelf).execute(WRITER, upload(PNG))
    shelf.configs.versions.append(
        StorageConfig(id="c0", provider=StorageProvider.S3, bucket="b", region="r")
    )
    new = await store_upload(shelf).execute(WRITER, upload(b"hello"))
    assert new.file.config_id == "c0" and new.url.url.startswith("s3://")
    again = await GetFile(shelf.store).execute(READER, old.file.id or "")
    assert again.url.url.startswith("local://")
    with pytest.raises(NotFound):
        await GetFile(shelf.store).execute(READER, "nope")
    with pytest.raises(Forbidden):
        await store_upload(shelf).execute(READER, upload(PNG))


async def test_delete_removes_the_blob_then_the_metadata(shelf: Shelf) -> None:
    found = await store_upload(shelf).execute(WRITER, upload(PNG))
    delete = DeleteFile(shelf.store, Auditor(shelf.audit), unlimited_gate())
    with pytest.raises(Forbidden):
        await delete.execute(READER, found.file.id or "")
    await delete.execute(WRITER, found.file.id or "")
    assert shelf.local.blobs == {} and shelf.files.files == {}
    with pytest.raises(NotFound):
        await delete.execute(WRITER, found.file.id or "")


# -- storage settings ------------------------------------------------------------------------


def update_settings(shelf: Shelf) -> UpdateStorageSettings:
    return UpdateStorageSettings(shelf.factory, shelf.configs, Auditor(shelf.audit), POLICY)


S3 = StorageConfig(
    provider=StorageProvider.S3,
    bucket="files",
    region="us-east-1",
    access_key_id="AKIAEXAMPLE",
    secret_access_key="very-secret-key",
)


async def test_settings_are_proven_before_they_are_saved(shelf: Shelf) -> None:
    s3 = shelf.factory.locations[StorageProvider.S3]
    s3.refuse_check = InvalidInput("S3 refused: SignatureDoesNotMatch for very-secret-key")
    with pytest.raises(InvalidInput) as refused:
        await update_settings(shelf).execute(MANAGER, S3)
    assert "very-secret-key" not in refused.value.detail
    assert "SignatureDoesNotMatch" in refused.value.detail
    s3.refuse_check = ServiceUnavailable("file storage")
    with pytest.raises(InvalidInput):
        await update_settings(shelf).execute(MANAGER, S3)
    assert shelf.configs.versions == [] and shelf.audit.entries == []

    s3.refuse_check = None
    view = await update_settings(shelf).execute(MANAGER, S3)
    assert view.provider is StorageProvider.S3 and view.has_secret and not view.is_default
    assert "very-secret-key" not in view.model_dump_json()
    [saved] = shelf.configs.versions
    assert saved.secret_access_key == "very-secret-key" and saved.created_at is not None
    [entry] = shelf.audit.entries
    assert entry.action == "storage.updated" and "very-secret-key" not in str(entry)
    assert entry.changes["provider"] == {"from": "local", "to": "s3"}


async def test_settings_rules(shelf: Shelf) -> None:
    with pytest.raises(Forbidden):
        await update_settings(shelf).execute(WRITER, S3)
    azure = StorageConfig(provider=StorageProvider.AZURE_BLOB, connection_string="x", container="c")
    with pytest.raises(InvalidInput, match="does not offer"):
        await update_settings(shelf).execute(MANAGER, azure)
    with pytest.raises(InvalidInput) as missing:
        await update_settings(shelf).execute(MANAGER, S3.model_copy(update={"bucket": None}))
    assert [p.loc for p in missing.value.problems] == [("bucket",)]
    # Fields of other providers are dropped, not stored.
    await update_settings(shelf).execute(
        MANAGER, StorageConfig(provider=StorageProvider.LOCAL, bucket="stray")
    )
    assert shelf.configs.versions[0].bucket is None


# -- avatars ---------------------------------------------------------------------------------


async def test_a_new_avatar_replaces_and_removes_the_old_one(shelf: Shelf) -> None:
    world = World(user("ann", ["member"]), user("bob", ["owner"]))
    set_avatar = SetAvatar(world.users, world.authority, shelf.store, Auditor(shelf.audit), POLICY)
    ann = principal("ann", {"files:write"})
    first = await set_avatar.execute(ann, "ann", upload(PNG))
    second = await set_avatar.execute(ann, "ann", upload(PNG + b"2"))
    assert first.avatar_key != second.avatar_key
    assert list(shelf.files.files) == [second.avatar_key]
    assert len(shelf.local.blobs) == 1
    assert shelf.files.files[second.avatar_key or ""].purpose == "avatar"
    with pytest.raises(UnsupportedMediaType):
        await set_avatar.execute(ann, "ann", upload(b"plain text is allowed for uploads"))
    with pytest.raises(PayloadTooLarge):  # within the first bytes: refused before storing
        await set_avatar.execute(ann, "ann", upload(PNG + b"x" * 500))
    assert len(shelf.local.blobs) == 1 and len(shelf.local.deleted) == 1
    with pytest.raises(Forbidden):  # someone else's, without users:write
        await set_avatar.execute(ann, "bob", upload(PNG))
    admin = principal("bob", {"users:write", "files:write"})
    with pytest.raises(NotFound):
        await set_avatar.execute(admin, "nobody", upload(PNG))
    # An avatar is not deleted through the files route.
    with pytest.raises(Conflict):
        await DeleteFile(shelf.store, Auditor(shelf.audit), unlimited_gate()).execute(
            WRITER, second.avatar_key or ""
        )

    describe = DescribeProfiles(DescribeUsers(world.roles), shelf.files, shelf.store)
    [(_, url), (_, none)] = await describe.execute([second, world.users.rows["bob"]])
    assert url == f"local://{shelf.files.files[second.avatar_key or ''].key}?ttl=60"
    assert none is None


# -- local download links --------------------------------------------------------------------


async def test_download_links_are_the_credential(shelf: Shelf) -> None:
    now = stored_now()
    tenant_id, other = "a" * 24, "b" * 24
    tenant = Tenant(id=tenant_id, name="A", subdomain="a", created_at=now, updated_at=now)
    key = f"tenants/{tenant_id}/abc"
    shelf.local.blobs[key] = b"hello"
    download = OpenLocalDownload(FakeLinks(), shelf.factory, ResolveTenant(FakeDirectory(tenant)))
    params = {"tenant": tenant_id, "key": key, "sig": "good"}
    with tenant_context(None):
        found = await download.execute(params)
        assert b"".join([c async for c in found.chunks]) == b"hello"
        with pytest.raises(Forbidden):
            await download.execute({**params, "sig": "forged"})
        with pytest.raises(NotFound):
            await download.execute({**params, "key": f"tenants/{tenant_id}/gone"})
    with tenant_context(TenantId(other)), pytest.raises(Forbidden):
        await download.execute(params)


def test_default_settings_refs_name_their_provider() -> None:
    from api.domain.files.storage import default_config_ref, default_provider_of

    ref = default_config_ref(StorageProvider.S3)
    assert ref == "default:s3"
    assert default_provider_of(ref) is StorageProvider.S3
    assert default_provider_of(DEFAULT_CONFIG_ID) is None
    assert default_provider_of("6b0388b8d5f74880d9e2d4b3") is None
