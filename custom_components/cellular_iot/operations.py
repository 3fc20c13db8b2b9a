"""The sends the outbox can perform (and retry) for each account kind.

Each operation takes the entry and the outbox item, performs the provider call from
the item's JSON parameters and returns the fields the action's response adds when the
send went out. A provider error propagates; the outbox decides whether to retry.
"""

from __future__ import annotations

from typing import Any

from .models import CellularIoTConfigEntry, EmnifyData, HologramData, MonozData
from .outbox import OPERATIONS, OutboxItem
from .providers.errors import ProviderBadRequestError, ProviderConnectionError
from .providers.hologram import CloudMessageResult
from .providers.monoz import FORMAT_JSON, FORMAT_TEXT
from .providers.sms import SmsPart

HOLOGRAM_CLOUD_MESSAGE = "hologram_cloud_message"
HOLOGRAM_SMS = "hologram_sms"
EMNIFY_SMS = "emnify_sms"
MONOZ_REST = "monoz_rest"
MONOZ_MQTT = "monoz_mqtt"


def _runtime[T](entry: CellularIoTConfigEntry, kind: type[T]) -> T:
    runtime = getattr(entry, "runtime_data", None)
    if not isinstance(runtime, kind):
        raise ProviderConnectionError(f"{entry.title} is not loaded")
    return runtime


async def hologram_cloud_message(
    entry: CellularIoTConfigEntry, item: OutboxItem
) -> dict[str, Any]:
    """POST /devices/messages for every device at once."""
    runtime = _runtime(entry, HologramData)
    params = item.params
    results = await runtime.client.send_cloud_message(
        params["device_ids"],
        port=params["port"],
        protocol=params["protocol"],
        data=params.get("data"),
        data_base64=params.get("data_base64"),
        encrypted=params["encrypted"],
    )
    return {"messages": cloud_message_ids(results)}


def cloud_message_ids(results: list[CloudMessageResult]) -> list[dict[str, Any]]:
    """Return the devices a cloud message was queued for, with Hologram's ids."""
    return [
        {"device_id": result.device_id, "message_id": result.message_id}
        for result in results
    ]


async def hologram_sms(
    entry: CellularIoTConfigEntry, item: OutboxItem
) -> dict[str, Any]:
    """POST /sms/incoming to one device."""
    runtime = _runtime(entry, HologramData)
    params = item.params
    result = await runtime.client.send_sms(
        [params["device_id"]], params["message"], from_number=params.get("sender")
    )
    count = result.get("msgcount") if isinstance(result, dict) else None
    return {"message_count": count if isinstance(count, int) else None}


async def emnify_sms(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """Send the parts not sent yet, one request each; progress is kept on the item."""
    runtime = _runtime(entry, EmnifyData)
    params = item.params
    sent: list[dict[str, Any]] = item.progress.setdefault("sent", [])
    parts = params["parts"]
    for number in range(len(sent) + 1, len(parts) + 1):
        raw = parts[number - 1]
        result = await runtime.client.send_sms(
            params["device_id"],
            [SmsPart(payload=raw["payload"], dcs=raw.get("dcs"), udh=raw.get("udh"))],
            source_address=params.get("source_address"),
            alphanumeric_sender=params.get("alphanumeric", False),
            expiry_date=params.get("expiry_date"),
        )
        sent.append({"part": number, "sms_id": result[0].sms_id})
    return {"encoding": params["encoding"], "parts": len(parts), "messages": sent}


async def monoz_rest(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """POST /{org}/Publish/Message."""
    runtime = _runtime(entry, MonozData)
    params = item.params
    result = await runtime.client.publish_message(
        params["iccid"],
        params["message"],
        topic=params["topic"],
        qos=params["qos"],
        message_format=FORMAT_JSON if params["format"] == "json" else FORMAT_TEXT,
    )
    return {"result": result}


async def monoz_mqtt(entry: CellularIoTConfigEntry, item: OutboxItem) -> dict[str, Any]:
    """Publish to /{org}/{iccid}/sub{topic}; a broker that is down is a passing fault."""
    runtime = _runtime(entry, MonozData)
    if runtime.mqtt is None:
        raise ProviderBadRequestError(f"{entry.title} has no MQTT broker any more")
    params = item.params
    message_id = await runtime.mqtt.publish(
        params["mqtt_topic"], params["message"].encode(), params["qos"], queue=False
    )
    return {"message_id": message_id}


OPERATIONS.update(
    {
        HOLOGRAM_CLOUD_MESSAGE: hologram_cloud_message,
        HOLOGRAM_SMS: hologram_sms,
        EMNIFY_SMS: emnify_sms,
        MONOZ_REST: monoz_rest,
        MONOZ_MQTT: monoz_mqtt,
    }
)
