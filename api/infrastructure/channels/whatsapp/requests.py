"""Parley's outbound content as the Graph API's message objects (`type` and its payload)."""

from __future__ import annotations

from typing import Any

from api.domain.messaging.content import (
    InteractiveContent,
    LocationContent,
    MediaContent,
    MediaKind,
    OutboundContent,
    ReactionContent,
    TemplateContent,
    TextContent,
)


def message_object(content: OutboundContent) -> tuple[str, dict[str, Any]]:
    """(`type`, the object sent under that key) for one piece of content."""
    match content:
        case TextContent():
            return "text", {"body": content.body, "preview_url": content.preview_url}
        case TemplateContent():
            template: dict[str, Any] = {
                "name": content.name,
                "language": {"code": content.language},
            }
            if content.components:
                template["components"] = content.components
            return "template", template
        case MediaContent():
            media: dict[str, Any] = (
                {"link": content.link} if content.link is not None else {"id": content.media_id}
            )
            # Meta takes captions on images, videos and documents, filenames on documents.
            if content.caption and content.media_kind in _CAPTIONED:
                media["caption"] = content.caption
            if content.filename and content.media_kind is MediaKind.DOCUMENT:
                media["filename"] = content.filename
            return content.media_kind.value, media
        case LocationContent():
            location: dict[str, Any] = {
                "latitude": content.latitude,
                "longitude": content.longitude,
            }
            location.update({k: v for k in ("name", "address") if (v := getattr(content, k))})
            return "location", location
        case InteractiveContent():
            return "interactive", dict(content.interactive)
        case ReactionContent():
            return "reaction", {"message_id": content.message_id, "emoji": content.emoji}
    raise AssertionError(f"unhandled content {content!r}")  # pragma: no cover


_CAPTIONED = frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT})


def template_object(
    name: str,
    language: str,
    category: str,
    components: list[dict[str, Any]],
    *,
    parameter_format: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "language": language, "category": category, "components": components,
    }  # fmt: skip
    if parameter_format:
        body["parameter_format"] = parameter_format
    return body
