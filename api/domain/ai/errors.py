"""What can go wrong in AI chat: models, providers and the tenant's token quota."""

from __future__ import annotations

from api.domain.errors import Conflict, InvalidInput, NotFound, RateLimited, ServiceUnavailable


class UnknownModel(InvalidInput):
    """The model is not one this tenant may use (not offered, or not allowed): 422."""

    code = "unknown_model"
    title = "Unknown model"


class ModelNotFound(NotFound):
    """The provider does not have the model it listed (removed since): 404."""

    code = "model_not_found"
    title = "Model not found"


class ProviderUnavailable(ServiceUnavailable):
    """The provider cannot be reached, timed out or failed: 503."""

    code = "provider_unavailable"
    title = "AI provider unavailable"


class ProviderRejected(ProviderUnavailable):
    """The provider refused the request (credentials, its own rate limit, bad request):
    the deployment's problem, not the caller's, so also 503."""

    code = "provider_rejected"
    title = "AI provider refused the request"


class QuotaExceeded(RateLimited):
    """The tenant has used its daily token budget: 429 until the next UTC day."""

    code = "quota_exceeded"
    title = "AI token quota exceeded"


class UnknownChannels(InvalidInput):
    """An assistant names channels that are not the tenant's: 422."""

    code = "unknown_channels"
    title = "Unknown channels"


class ChannelHasAssistant(Conflict):
    """Another enabled assistant answers on the channel already (one bot a channel): 409."""

    code = "channel_has_assistant"
    title = "Channel answered by another assistant"
