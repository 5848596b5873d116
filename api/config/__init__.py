"""Settings, read from the environment (and `.env`), grouped by concern, one module each.

Every group reads the variable names Parley's users already know (`MONGO_URI`,
`JWT_SECRET`, `REDIS_HOST`, ...). In development, secrets fall back to obvious dev values
so a fresh clone runs; with `ENVIRONMENT=production` a missing or default secret stops
start-up with a message naming the variable (see `Settings.check_production`).

- `base`: the environment names and the reading rules every group shares
- `data`: MongoDB and Redis
- `identity`: secrets, CORS, tokens, passwords, MFA, abuse limits
- `tenancy`: how a request names its tenant
- `mail`: SMTP and the mail Parley writes
- `jobs`: Celery
- `ai`: AI chat providers and limits
- `monitoring`: who may read `/metrics`
- `storage`: file storage
- `messaging`: messaging channels (WhatsApp)
- `imports`: contact imports
- `platform`: sign-in by one-time code, self-service sign-up
- `server`: the public URL and the trusted reverse proxies
- `settings`: the whole `Settings`, its production checks and `load_settings()`
"""

from api.config.ai import AiSettings
from api.config.base import DEV_SECRET_PREFIX, Environment
from api.config.data import MongoSettings, RedisSettings
from api.config.identity import AuthSettings, SecuritySettings
from api.config.imports import ImportSettings
from api.config.jobs import JobSettings
from api.config.mail import MailSettings, SmtpSettings
from api.config.messaging import (
    MetaSettings,
    RealtimeSettings,
    TelegramSettings,
    WhatsAppSettings,
)
from api.config.monitoring import MetricsSettings
from api.config.platform import OtpSettings, SignupSettings
from api.config.server import ServerSettings
from api.config.settings import ConfigurationError, Settings, load_settings
from api.config.storage import DEFAULT_ALLOWED_CONTENT_TYPES, StorageSettings
from api.config.tenancy import TenancySettings

__all__ = [
    "DEFAULT_ALLOWED_CONTENT_TYPES",
    "DEV_SECRET_PREFIX",
    "AiSettings",
    "AuthSettings",
    "ConfigurationError",
    "Environment",
    "ImportSettings",
    "JobSettings",
    "MailSettings",
    "MetaSettings",
    "MetricsSettings",
    "MongoSettings",
    "OtpSettings",
    "RealtimeSettings",
    "RedisSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SignupSettings",
    "SmtpSettings",
    "StorageSettings",
    "TelegramSettings",
    "TenancySettings",
    "WhatsAppSettings",
    "load_settings",
]
