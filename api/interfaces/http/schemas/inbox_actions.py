"""The shared inbox's action bodies (assign, snooze, tags, priority, notes)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api.domain.messaging.conversations import Priority
from api.usecases.messaging.add_private_note import MAX_NOTE_LENGTH
from api.usecases.messaging.inbox_actions import MAX_TAG_LENGTH, MAX_TAGS


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: str | None = Field(
        min_length=1, max_length=64, description="An agent's user id; null unassigns."
    )
    team_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="A team's id; null takes the team off; absent leaves it as it is.",
    )

    @property
    def sets_team(self) -> bool:
        return "team_id" in self.model_fields_set


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: AwareDatetime = Field(description="When it wakes: in the future, within a year.")


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(
        max_length=MAX_TAGS,
        description=(
            f"The conversation's tags (replacing them): at most {MAX_TAGS}, each 1 to "
            f"{MAX_TAG_LENGTH} characters; stored trimmed, in lower case, each once."
        ),
    )


class ConversationPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority | None = None

    @model_validator(mode="after")
    def _something(self) -> ConversationPatchIn:
        if self.priority is None:
            raise ValueError("give `priority`")
        return self


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(
        min_length=1, max_length=MAX_NOTE_LENGTH, description="The note (never sent)."
    )


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, min_length=1, max_length=200, description="Why (audited)."
    )
