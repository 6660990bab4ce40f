"""`/api-keys`: keys of the organisation, their scopes and rate limits."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import ApiKey, ApiKeyCreated

__all__ = ["ApiKeys", "AsyncApiKeys"]


class ApiKeys(SyncAPIResource):
    """API keys (Admin scope)."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> SyncPage[ApiKey]:
        """Keys (never their secrets); iterate for all pages."""
        return self._page("/api-keys", key="api_keys", item=ApiKey, params={"limit": limit, "offset": offset})

    def create(
        self,
        *,
        name: str,
        scopes: List[str],
        environment: str = NOT_GIVEN,
        expires_at: str = NOT_GIVEN,
        user_id: str = NOT_GIVEN,
        rate_limits: Dict[str, Any] = NOT_GIVEN,
    ) -> ApiKeyCreated:
        """Creates a key; the answer carries the `secret`, shown only this once."""
        body = strip_not_given(
            {
                "name": name,
                "scopes": scopes,
                "environment": environment,
                "expires_at": expires_at,
                "user_id": user_id,
                "rate_limits": rate_limits,
            }
        )
        return self._client._request("POST", "/api-keys", json=body, cast=ApiKeyCreated)

    def get(self, key_id: str) -> ApiKey:
        """One key."""
        return self._client._request("GET", f"/api-keys/{seg(key_id)}", cast=ApiKey)

    def update(self, key_id: str, *, name: str = NOT_GIVEN, rate_limits: Dict[str, Any] = NOT_GIVEN) -> ApiKey:
        """Renames a key or changes its rate limits."""
        body = strip_not_given({"name": name, "rate_limits": rate_limits})
        return self._client._request("PUT", f"/api-keys/{seg(key_id)}", json=body, cast=ApiKey)

    def revoke(self, key_id: str) -> None:
        """Revokes a key (`DELETE /api-keys/{id}`): it is refused from then on."""
        self._client._request("DELETE", f"/api-keys/{seg(key_id)}")

    delete = revoke


class AsyncApiKeys(AsyncAPIResource):
    """API keys (Admin scope)."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> AsyncPaginator[ApiKey]:
        """Keys (never their secrets); `async for` walks all pages."""
        return self._page("/api-keys", key="api_keys", item=ApiKey, params={"limit": limit, "offset": offset})

    async def create(
        self,
        *,
        name: str,
        scopes: List[str],
        environment: str = NOT_GIVEN,
        expires_at: str = NOT_GIVEN,
        user_id: str = NOT_GIVEN,
        rate_limits: Dict[str, Any] = NOT_GIVEN,
    ) -> ApiKeyCreated:
        """Creates a key; the answer carries the `secret`, shown only this once."""
        body = strip_not_given(
            {
                "name": name,
                "scopes": scopes,
                "environment": environment,
                "expires_at": expires_at,
                "user_id": user_id,
                "rate_limits": rate_limits,
            }
        )
        return await self._client._request("POST", "/api-keys", json=body, cast=ApiKeyCreated)

    async def get(self, key_id: str) -> ApiKey:
        """One key."""
        return await self._client._request("GET", f"/api-keys/{seg(key_id)}", cast=ApiKey)

    async def update(
        self, key_id: str, *, name: str = NOT_GIVEN, rate_limits: Dict[str, Any] = NOT_GIVEN
    ) -> ApiKey:
        """Renames a key or changes its rate limits."""
        body = strip_not_given({"name": name, "rate_limits": rate_limits})
        return await self._client._request("PUT", f"/api-keys/{seg(key_id)}", json=body, cast=ApiKey)

    async def revoke(self, key_id: str) -> None:
        """Revokes a key (`DELETE /api-keys/{id}`): it is refused from then on."""
        await self._client._request("DELETE", f"/api-keys/{seg(key_id)}")

    delete = revoke
