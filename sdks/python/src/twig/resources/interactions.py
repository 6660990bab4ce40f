"""`/interactions` (query history and feedback) and `/analytics`."""

from __future__ import annotations

from typing import Optional

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import Analytics as AnalyticsReport
from ..types import Interaction

__all__ = ["Interactions", "AsyncInteractions", "Analytics", "AsyncAnalytics"]


def _filters(**kw: Optional[str]) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


class Interactions(SyncAPIResource):
    """Answered queries."""

    def list(
        self,
        *,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        agent_id: Optional[str] = None,
        start_date: Optional[str] = None,
        end_date: Optional[str] = None,
        feedback: Optional[str] = None,
    ) -> SyncPage[Interaction]:
        """Interactions, newest first, filtered; iterate for all pages. Read scope."""
        params = dict(limit=limit, offset=offset, **_filters(agent_id=agent_id, start_date=start_date,
                                                             end_date=end_date, feedback=feedback))
        return self._page("/interactions", key="interactions", item=Interaction, params=params)

    def get(self, interaction_id: str) -> Interaction:
        """One interaction. Read scope."""
        return self._client._request("GET", f"/interactions/{seg(interaction_id)}", cast=Interaction)

    def feedback(self, interaction_id: str, *, feedback: str, comment: str = NOT_GIVEN) -> Interaction:
        """Records `positive` or `negative` feedback (with an optional comment). Execute scope."""
        body = strip_not_given({"feedback": feedback, "comment": comment})
        return self._client._request(
            "POST", f"/interactions/{seg(interaction_id)}/feedback", json=body, cast=Interaction
        )


class AsyncInteractions(AsyncAPIResource):
    """Answered queries."""

    def list(
        self,
        *,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        agent_id: Optional[str] = None,
        start_date: Optional[str] = None,
        end_date: Optional[str] = None,
        feedback: Optional[str] = None,
    ) -> AsyncPaginator[Interaction]:
        """Interactions, newest first, filtered; `async for` walks all pages. Read scope."""
        params = dict(limit=limit, offset=offset, **_filters(agent_id=agent_id, start_date=start_date,
                                                             end_date=end_date, feedback=feedback))
        return self._page("/interactions", key="interactions", item=Interaction, params=params)

    async def get(self, interaction_id: str) -> Interaction:
        """One interaction. Read scope."""
        return await self._client._request("GET", f"/interactions/{seg(interaction_id)}", cast=Interaction)

    async def feedback(self, interaction_id: str, *, feedback: str, comment: str = NOT_GIVEN) -> Interaction:
        """Records `positive` or `negative` feedback (with an optional comment). Execute scope."""
        body = strip_not_given({"feedback": feedback, "comment": comment})
        return await self._client._request(
            "POST", f"/interactions/{seg(interaction_id)}/feedback", json=body, cast=Interaction
        )


class Analytics(SyncAPIResource):
    """Usage metrics."""

    def get(
        self,
        *,
        start_date: str,
        end_date: str,
        agent_id: Optional[str] = None,
        granularity: Optional[str] = None,
    ) -> AnalyticsReport:
        """Metrics and a time series over `start_date`..`end_date` (YYYY-MM-DD). Admin scope."""
        params = _filters(start_date=start_date, end_date=end_date, agent_id=agent_id, granularity=granularity)
        return self._client._request("GET", "/analytics", params=params, cast=AnalyticsReport)


class AsyncAnalytics(AsyncAPIResource):
    """Usage metrics."""

    async def get(
        self,
        *,
        start_date: str,
        end_date: str,
        agent_id: Optional[str] = None,
        granularity: Optional[str] = None,
    ) -> AnalyticsReport:
        """Metrics and a time series over `start_date`..`end_date` (YYYY-MM-DD). Admin scope."""
        params = _filters(start_date=start_date, end_date=end_date, agent_id=agent_id, granularity=granularity)
        return await self._client._request("GET", "/analytics", params=params, cast=AnalyticsReport)
