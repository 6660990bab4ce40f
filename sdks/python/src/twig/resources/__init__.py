"""One module per API resource, each with a sync class and its async twin."""

from .agents import Agents, AsyncAgents
from .api_keys import ApiKeys, AsyncApiKeys
from .data_sources import AsyncDataSources, AsyncDocuments, DataSources, Documents
from .interactions import Analytics, AsyncAnalytics, AsyncInteractions, Interactions
from .kb import AsyncKnowledgeBase, KnowledgeBase
from .users import AsyncUsers, Users
from .webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "Agents",
    "AsyncAgents",
    "ApiKeys",
    "AsyncApiKeys",
    "DataSources",
    "AsyncDataSources",
    "Documents",
    "AsyncDocuments",
    "Interactions",
    "AsyncInteractions",
    "Analytics",
    "AsyncAnalytics",
    "KnowledgeBase",
    "AsyncKnowledgeBase",
    "Users",
    "AsyncUsers",
    "Webhooks",
    "AsyncWebhooks",
]
