"""AI chat: the providers, the conversation context and the streaming timeouts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

from api.config.base import CsvList, env_config, split_csv


class AiSettings(BaseSettings):
    """AI chat: providers (a provider is on when configured), context, timeouts."""

    model_config = env_config()

    ollama_host: str | None = None  # e.g. http://127.0.0.1:11434; unset: no Ollama
    ollama_models: CsvList = Field(default_factory=list)  # offer only these (empty: all)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None  # vLLM, LM Studio, llama.cpp: http://host:port/v1
    openai_models: CsvList = Field(default_factory=list)  # offer only these (empty: all)
    ai_default_model: str | None = None
    ai_system_prompt: str | None = None
    ai_context_max_turns: int = Field(default=10, ge=1, le=500)
    ai_context_max_tokens: int = Field(default=4000, ge=100)
    ai_max_message_chars: int = Field(default=32000, ge=1)
    ai_models_cache_seconds: float = Field(default=30.0, ge=0)
    # How long a process keeps a tenant's AI settings (0: read them for every ask). A change
    # through a process applies there at once, on the others within this.
    ai_settings_cache_seconds: float = Field(default=5.0, ge=0)
    # How long a model-list refresh waits for a provider before counting it with its last
    # list (its listing goes on): a hung provider never holds up chats with the others.
    ai_models_wait_seconds: float = Field(default=2.0, gt=0, le=60)
    ai_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    ai_first_token_timeout_seconds: float = Field(default=120.0, gt=0)
    ai_token_timeout_seconds: float = Field(default=60.0, gt=0)
    ai_keepalive_seconds: float = Field(default=15.0, gt=0)
    ai_start_grace_seconds: float = Field(default=3.0, ge=0)
    # The most tokens one reply may have (the models' output cap; also what a call holds
    # of the tenant's daily quota, with its prompt, until it ends).
    ai_max_output_tokens: int = Field(default=4096, ge=1)
    # A hold a crashed process never settled stops counting against the quota after this.
    ai_quota_hold_seconds: float = Field(default=3600.0, gt=0)

    # Assistants' knowledge: the embeddings model (unset: documents cannot be indexed), its
    # provider (unset: Ollama when OLLAMA_HOST is set, else the OpenAI-compatible server),
    # how documents are split, and how many passages a question gets.
    knowledge_embedding_model: str | None = None
    knowledge_embedding_provider: Literal["ollama", "openai"] | None = None
    knowledge_embedding_batch: int = Field(default=64, ge=1, le=2048)
    knowledge_chunk_size: int = Field(default=1000, ge=100, le=20000)
    knowledge_chunk_overlap: int = Field(default=150, ge=0, le=5000)
    knowledge_max_document_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    knowledge_max_chunks: int = Field(default=2000, ge=1)
    knowledge_top_k: int = Field(default=4, ge=1, le=50)
    knowledge_min_score: float = Field(default=0.35, ge=-1, le=1)
    knowledge_vector_index: str = "knowledge_vectors"

    _csv = field_validator("ollama_models", "openai_models", mode="before")(split_csv)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> AiSettings:
        if self.knowledge_chunk_overlap >= self.knowledge_chunk_size:
            raise ValueError("KNOWLEDGE_CHUNK_OVERLAP must be smaller than KNOWLEDGE_CHUNK_SIZE")
        return self

    @property
    def openai_enabled(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def embedding_provider(self) -> Literal["ollama", "openai"] | None:
        """Who embeds documents: the configured provider, else the one that is on (Ollama
        first); None when knowledge is off (no model, or its provider not configured)."""
        if not self.knowledge_embedding_model:
            return None
        chosen = self.knowledge_embedding_provider
        if chosen is None:
            chosen = "ollama" if self.ollama_host else "openai"
        enabled = self.ollama_host if chosen == "ollama" else self.openai_enabled
        return chosen if enabled else None


class AssistantSettings(BaseSettings):
    """`ASSISTANT_*`: the AI assistants that answer customers on channels."""

    model_config = env_config("ASSISTANT_")

    context_messages: int = Field(
        default=12, ge=1, le=100,
        description="How many of the conversation's latest messages the model sees.",
    )  # fmt: skip
    max_output_tokens: int = Field(
        default=512, ge=16, le=8192, description="The most tokens one reply (decision) may use."
    )
    claim_seconds: int = Field(
        default=300, ge=10, le=3600,
        description=(
            "How long a reply job holds an inbound message before a retried job may answer "
            "it (a crashed worker's claim lapses then)."
        ),
    )  # fmt: skip
    follow_up_idle_minutes: int = Field(
        default=60, ge=1, le=7 * 24 * 60,
        description=(
            "A bot conversation idle this long gets its follow-up; idle as long again "
            "after it, it is resolved."
        ),
    )  # fmt: skip
    follow_up_batch: int = Field(
        default=200, ge=1, le=5000, description="Conversations the follow-up beat handles a run."
    )
    follow_up_every_seconds: float = Field(
        default=60.0, ge=5, le=3600, description="How often the follow-up beat runs."
    )
