"""Message sends to the Graph API over aiohttp, one connection pool per channel client.

Sends are the one call Parley makes at volume (campaigns keep hundreds in flight): httpx's
async pool, under pywa, spent several times more CPU per request at that concurrency
(bench/README.md, campaigns). The request is pywa's own `send_message` body, the answer is
read like pywa reads it, and failures leave as the same provider-neutral errors (through
`from_graph_error`), with one distinction more: a request that could not be sent (no
connection) is a transient failure, one sent without an answer `ChannelOutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import httpx
from pywa_async.errors import WhatsAppError

from api.domain.messaging.errors import ChannelOutcomeUnknown, ChannelTransientFailure
from api.infrastructure.channels.whatsapp.errors import from_graph_error

_JSON = {"Content-Type": "application/json", "User-Agent": "Parley"}


class GraphSender:
    """POSTs one number's messages; the session is made on first use (in the running
    loop) and closed with the channel's client."""

    def __init__(
        self, base_url: str, token: str, *, timeout_seconds: float, max_connections: int
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {**_JSON, "Authorization": f"Bearer {token}"}
        self._secrets = (token,)
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_seconds, connect=min(timeout_seconds, 10.0)
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self.closed = False

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer's JSON; a provider-neutral channel error otherwise."""
        session = self._open()
        try:
            async with session.post(
                self._base_url + path, data=json.dumps(body), headers=self._headers
            ) as response:
                status, raw = response.status, await response.read()
        except aiohttp.ConnectionTimeoutError:  # before it left
            raise ChannelTransientFailure("WhatsApp could not be reached (timeout).") from None
        except aiohttp.ClientConnectorError as exc:
            raise ChannelTransientFailure(
                f"WhatsApp could not be reached ({type(exc).__name__})."
            ) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ChannelOutcomeUnknown(
                f"WhatsApp did not answer ({type(exc).__name__})."
            ) from None
        except RuntimeError:
            if self.closed or session.closed:
                raise ChannelTransientFailure("The channel's client was replaced.") from None
            raise
        return self._answer(status, raw)

    def _answer(self, status: int, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if not isinstance(error, dict) or "code" not in error:
                text = raw.decode(errors="replace")[:300]
                error = {"code": status, "message": text or f"Non-JSON error (HTTP {status})"}
            graph = WhatsAppError.from_dict(error=error, response=httpx.Response(status))
            raise from_graph_error(graph, secrets=self._secrets)
        if not isinstance(data, dict):
            raise ChannelOutcomeUnknown("WhatsApp answered, but not with JSON.")
        return data

    def _open(self) -> aiohttp.ClientSession:
        if self.closed:
            raise ChannelTransientFailure("The channel's client was replaced.")
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        self.closed = True
        if self._session is not None:
            await self._session.close()


async def close_all(senders: list[GraphSender]) -> None:
    await asyncio.gather(*(s.close() for s in senders), return_exceptions=True)
