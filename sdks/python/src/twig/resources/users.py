"""`/users`: people of the organisation and their roles."""

from __future__ import annotations

from typing import Optional

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import User

__all__ = ["Users", "AsyncUsers"]


class Users(SyncAPIResource):
    """Users (Admin scope)."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> SyncPage[User]:
        """Users; iterate for all pages."""
        return self._page("/users", key="users", item=User, params={"limit": limit, "offset": offset})

    def create(self, *, email: str, name: str = NOT_GIVEN, role: str = NOT_GIVEN) -> User:
        """Creates a user with a role (`readonly`, `train`, `configure`, `admin`)."""
        body = strip_not_given({"email": email, "name": name, "role": role})
        return self._client._request("POST", "/users", json=body, cast=User)

    def get(self, user_id: str) -> User:
        """One user."""
        return self._client._request("GET", f"/users/{seg(user_id)}", cast=User)

    def update(self, user_id: str, *, email: str = NOT_GIVEN, name: str = NOT_GIVEN, role: str = NOT_GIVEN) -> User:
        """Changes the given fields."""
        body = strip_not_given({"email": email, "name": name, "role": role})
        return self._client._request("PUT", f"/users/{seg(user_id)}", json=body, cast=User)

    def delete(self, user_id: str) -> None:
        """Deletes a user."""
        self._client._request("DELETE", f"/users/{seg(user_id)}")


class AsyncUsers(AsyncAPIResource):
    """Users (Admin scope)."""

    def list(self, *, limit: Optional[int] = None, offset: Optional[int] = None) -> AsyncPaginator[User]:
        """Users; `async for` walks all pages."""
        return self._page("/users", key="users", item=User, params={"limit": limit, "offset": offset})

    async def create(self, *, email: str, name: str = NOT_GIVEN, role: str = NOT_GIVEN) -> User:
        """Creates a user with a role (`readonly`, `train`, `configure`, `admin`)."""
        body = strip_not_given({"email": email, "name": name, "role": role})
        return await self._client._request("POST", "/users", json=body, cast=User)

    async def get(self, user_id: str) -> User:
        """One user."""
        return await self._client._request("GET", f"/users/{seg(user_id)}", cast=User)

    async def update(
        self, user_id: str, *, email: str = NOT_GIVEN, name: str = NOT_GIVEN, role: str = NOT_GIVEN
    ) -> User:
        """Changes the given fields."""
        body = strip_not_given({"email": email, "name": name, "role": role})
        return await self._client._request("PUT", f"/users/{seg(user_id)}", json=body, cast=User)

    async def delete(self, user_id: str) -> None:
        """Deletes a user."""
        await self._client._request("DELETE", f"/users/{seg(user_id)}")
