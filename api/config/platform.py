"""`OTP_*` settings of sign-in by one-time code, and `SIGNUP_*` settings of self-service
sign-up (a new tenant with its owner)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from api.config.base import env_config


class OtpSettings(BaseSettings):
    """`POST /auth/otp/request` and `/auth/otp/verify` (see `RequestSignInCode`)."""

    model_config = env_config("OTP_")

    ttl_seconds: int = Field(
        default=300, ge=30, le=3600, description="How long a sign-in code is valid."
    )
    max_attempts: int = Field(default=5, ge=1, le=20, description="Wrong tries that kill a code.")
    requests_per_identifier: int = Field(
        default=5, ge=1, description="Codes one email or phone may ask for per window."
    )
    verify_per_identifier: int = Field(
        default=10, ge=1, description="Codes one email or phone may try per window."
    )
    window_seconds: int = Field(
        default=900, ge=60, le=86400, description="The per-identifier window, in seconds."
    )
    whatsapp_template: str = Field(
        default="sign_in_code",
        min_length=1,
        max_length=512,
        pattern=r"^[a-z0-9_]+$",
        description="The approved AUTHENTICATION template codes go out with on WhatsApp.",
    )
    whatsapp_language: str = Field(
        default="en_US", min_length=2, max_length=15, description="That template's language."
    )


class SignupSettings(BaseSettings):
    """`POST /signup` (see `SignUpTenant`)."""

    model_config = env_config("SIGNUP_")

    enabled: bool = Field(default=True, description="Off: `POST /signup` answers 404.")
    auto_approve: bool = Field(
        default=False,
        description="Activate a signed-up tenant as soon as its owner verifies the email.",
    )
    rate_per_ip: int = Field(default=5, ge=1, description="Sign-ups one IP may post per window.")
    ip_window_seconds: int = Field(
        default=3600, ge=1, le=86400, description="The per-IP window, in seconds."
    )
