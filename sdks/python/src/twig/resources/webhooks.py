"""`/webhooks`: endpoints, their deliveries, redelivery, secret rotation and test pings.

To check a delivery's signature on the receiving side, see `twig.webhooks.verify`.
"""

from __future__ import annotations

from typing import List, Optional

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import Delivery, Webhook, WebhookWithSecret

__all__ = ["Webhooks", "AsyncWebhooks"]


def _body(url: str, events: List[str], enabled: bool, description: str) -> dict:
    return strip_not_given({"url": url, "events": events, "enabled": enabled, "description": description})


class Webhooks(SyncAPIResource):
    """Webhook endpoints (Admin scope)."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> SyncPage[Webhook]:
        """Endpoints; iterate for all pages."""
        return self._page("/webhooks", key="webhooks", item=Webhook, params={"limit": limit, "offset": offset})

    def create(
        self, *, url: str, events: List[str], enabled: bool = NOT_GIVEN, description: str = NOT_GIVEN
    ) -> WebhookWithSecret:
        """Adds an endpoint; the answer carries its signing secret, shown only here and on rotation."""
        body = _body(url, events, enabled, description)
        return self._client._request("POST", "/webhooks", json=body, cast=WebhookWithSecret)

    def get(self, webhook_id: str) -> Webhook:
        """One endpoint."""
        return self._client._request("GET", f"/webhooks/{seg(webhook_id)}", cast=Webhook)

    def update(
        self,
        webhook_id: str,
        *,
        url: str = NOT_GIVEN,
        events: List[str] = NOT_GIVEN,
        enabled: bool = NOT_GIVEN,
        description: str = NOT_GIVEN,
    ) -> Webhook:
        """Changes the given fields."""
        body = _body(url, events, enabled, description)
        return self._client._request("PUT", f"/webhooks/{seg(webhook_id)}", json=body, cast=Webhook)

    def delete(self, webhook_id: str) -> None:
        """Deletes an endpoint and its deliveries."""
        self._client._request("DELETE", f"/webhooks/{seg(webhook_id)}")

    def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        """A new signing secret; the old one keeps signing (a second `v1`) for the grace period."""
        return self._client._request("POST", f"/webhooks/{seg(webhook_id)}/rotate-secret", cast=WebhookWithSecret)

    def test(self, webhook_id: str) -> Delivery:
        """Queues a `ping` event to the endpoint."""
        return self._client._request("POST", f"/webhooks/{seg(webhook_id)}/test", cast=Delivery)

    def deliveries(
        self, webhook_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> SyncPage[Delivery]:
        """The endpoint's deliveries with their attempts; iterate for all pages."""
        path = f"/webhooks/{seg(webhook_id)}/deliveries"
        return self._page(path, key="deliveries", item=Delivery, params={"limit": limit, "offset": offset})

    def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Sends a delivery again, with the same event id and body."""
        path = f"/webhooks/{seg(webhook_id)}/deliveries/{seg(delivery_id)}/redeliver"
        return self._client._request("POST", path, cast=Delivery)


class AsyncWebhooks(AsyncAPIResource):
    """Webhook endpoints (Admin scope)."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> AsyncPaginator[Webhook]:
        """Endpoints; `async for` walks all pages."""
        return self._page("/webhooks", key="webhooks", item=Webhook, params={"limit": limit, "offset": offset})

    async def create(
        self, *, url: str, events: List[str], enabled: bool = NOT_GIVEN, description: str = NOT_GIVEN
    ) -> WebhookWithSecret:
        """Adds an endpoint; the answer carries its signing secret, shown only here and on rotation."""
        body = _body(url, events, enabled, description)
        return await self._client._request("POST", "/webhooks", json=body, cast=WebhookWithSecret)

    async def get(self, webhook_id: str) -> Webhook:
        """One endpoint."""
        return await self._client._request("GET", f"/webhooks/{seg(webhook_id)}", cast=Webhook)

    async def update(
        self,
        webhook_id: str,
        *,
        url: str = NOT_GIVEN,
        events: List[str] = NOT_GIVEN,
        enabled: bool = NOT_GIVEN,
        description: str = NOT_GIVEN,
    ) -> Webhook:
        """Changes the given fields."""
        body = _body(url, events, enabled, description)
        return await self._client._request("PUT", f"/webhooks/{seg(webhook_id)}", json=body, cast=Webhook)

    async def delete(self, webhook_id: str) -> None:
        """Deletes an endpoint and its deliveries."""
        await self._client._request("DELETE", f"/webhooks/{seg(webhook_id)}")

    async def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        """A new signing secret; the old one keeps signing (a second `v1`) for the grace period."""
        return await self._client._request(
            "POST", f"/webhooks/{seg(webhook_id)}/rotate-secret", cast=WebhookWithSecret
        )

    async def test(self, webhook_id: str) -> Delivery:
        """Queues a `ping` event to the endpoint."""
        return await self._client._request("POST", f"/webhooks/{seg(webhook_id)}/test", cast=Delivery)

    def deliveries(
        self, webhook_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> AsyncPaginator[Delivery]:
        """The endpoint's deliveries with their attempts; `async for` walks all pages."""
        path = f"/webhooks/{seg(webhook_id)}/deliveries"
        return self._page(path, key="deliveries", item=Delivery, params={"limit": limit, "offset": offset})

    async def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Sends a delivery again, with the same event id and body."""
        path = f"/webhooks/{seg(webhook_id)}/deliveries/{seg(delivery_id)}/redeliver"
        return await self._client._request("POST", path, cast=Delivery)
