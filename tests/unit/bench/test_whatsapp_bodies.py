"""The WhatsApp benchmarks' webhook bodies are what Parley parses from Meta: the right
events with the bench's ids, signed so that Parley's check accepts them."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from api.domain.errors import Forbidden
from api.domain.messaging.events import MessageReceived, StatusUpdated
from api.infrastructure.channels.whatsapp.webhook import parse_webhook
from api.usecases.messaging.webhook_rules import check_signature
from tests.support.fake_graph import PHONE_NUMBER_ID
from tests.support.settings import ROOT

# The bench scripts import it as a top-level module (they run from bench/): so do we.
sys.path.insert(0, str(ROOT / "bench"))
ws = importlib.import_module("whatsapp_stack")


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_a_status_body_is_one_status_of_the_bench_message(state: str) -> None:
    body = ws.status_body("wamid.BENCHabc.1.7", state, 1750263773, customer=3)

    [event] = parse_webhook(json.loads(body))

    assert isinstance(event, StatusUpdated)
    assert (event.external_id, event.state.value) == ("wamid.BENCHabc.1.7", state)
    assert event.account_id == PHONE_NUMBER_ID
    assert event.recipient_phone == ws.customer_phone(3)


def test_a_text_body_is_one_message_from_the_customer() -> None:
    body = ws.text_body("wamid.BENCHdef.42", 7, "Is my order ready?", 1749416383)

    [event] = parse_webhook(json.loads(body))

    assert isinstance(event, MessageReceived)
    assert (event.external_id, event.text) == ("wamid.BENCHdef.42", "Is my order ready?")
    assert event.sender.phone == ws.customer_phone(7)
    assert event.sender.user_id == ws.customer_user_id(7)


def test_the_signature_is_what_parley_checks() -> None:
    body = ws.status_body("wamid.BENCHabc.1.8", "delivered", 0)

    check_signature(ws.APP_SECRET, body, ws.signature(body))
    with pytest.raises(Forbidden):
        check_signature(ws.APP_SECRET, body + b" ", ws.signature(body))


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]

    assert (ws.percentile(values, 50), ws.percentile(values, 99)) == (50.0, 99.0)
    assert ws.percentile([5.0], 99) == 5.0
