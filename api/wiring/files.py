"""Files: blob storage per tenant, uploads' policy and the local download links."""

from __future__ import annotations

import hashlib
import hmac

import punq

from api.config import Settings
from api.domain.files.downloads import DownloadLinks
from api.domain.files.scanning import MalwareScanner
from api.domain.files.storage import (
    BlobStorageFactory,
    ContentSniffer,
    FileCatalog,
    FilenameSanitizer,
    FileRepository,
    StorageConfigRepository,
)
from api.infrastructure.persistence.files.storage import (
    BeanieFileRepository,
    BeanieStorageConfigRepository,
)
from api.infrastructure.scanning.clamd import ClamdScanner, NoMalwareScanner
from api.infrastructure.storage.factory import DeploymentBlobStorageFactory
from api.infrastructure.storage.local import LocalUrlSigner, local_download_url
from api.infrastructure.storage.sniff import sanitize_filename, sniff_content_type
from api.usecases.files.rules import StoragePolicy
from api.wiring.clients import Clients

DOWNLOAD_LINK_LABEL = b"parley.storage.local-download-links"


def download_link_secret(settings: Settings) -> str:
    """The local download links' key: derived from JWT_SECRET under a label of its own, so
    a link signature can never stand in for a token (or the other way round)."""
    secret = settings.security.jwt_secret.get_secret_value().encode()
    return hmac.new(secret, DOWNLOAD_LINK_LABEL, hashlib.sha256).hexdigest()


def storage_policy(settings: Settings) -> StoragePolicy:
    storage = settings.storage
    return StoragePolicy(
        max_upload_bytes=storage.max_upload_bytes,
        max_avatar_bytes=storage.max_avatar_bytes,
        allowed_content_types=frozenset(storage.allowed_content_types),
        signed_url_ttl_seconds=storage.signed_url_ttl_seconds,
        allowed_endpoints=frozenset(
            [*storage.storage_allowed_endpoints, *filter(None, [storage.aws_s3_endpoint_url])]
        ),
    )


def malware_scanner(settings: Settings) -> ClamdScanner | NoMalwareScanner:
    storage = settings.storage
    if storage.malware_scanner == "off":
        return NoMalwareScanner()
    return ClamdScanner(
        storage.clamd_host,
        storage.clamd_port,
        storage.malware_scan_timeout_seconds,
        storage.malware_scan_max_bytes,
    )


def register(container: punq.Container, settings: Settings, clients: Clients) -> None:
    signer = LocalUrlSigner(download_link_secret(settings))
    factory = DeploymentBlobStorageFactory(
        settings.storage,
        local_signer=signer,
        local_download_url=local_download_url(settings.public_base_url, settings.api_prefix),
    )
    container.register(BlobStorageFactory, instance=factory)
    container.register(DownloadLinks, instance=signer)
    container.register(ContentSniffer, instance=sniff_content_type)
    container.register(FilenameSanitizer, instance=sanitize_filename)
    container.register(StoragePolicy, instance=storage_policy(settings))
    container.register(MalwareScanner, instance=malware_scanner(settings))
    # One instance: it caches decrypted (immutable) settings versions.
    container.register(
        StorageConfigRepository, BeanieStorageConfigRepository, scope=punq.Scope.singleton
    )
    container.register(FileRepository, BeanieFileRepository)
    container.register(FileCatalog, BeanieFileRepository)
