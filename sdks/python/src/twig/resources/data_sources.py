"""`/data-sources`: CRUD, sync, status, uploads, documents; and `/documents/{id}`."""

from __future__ import annotations

import os
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple, Union

from .._base import NOT_GIVEN, strip_not_given
from .._pagination import AsyncPaginator, SyncPage
from .._resource import AsyncAPIResource, SyncAPIResource, seg
from ..types import DataSource, Document, Job, SyncStatus, UploadResponse

__all__ = ["DataSources", "AsyncDataSources", "Documents", "AsyncDocuments", "FileInput"]

#: A file to upload: a path, raw bytes, an open binary file, or (filename, bytes-or-file[, content type]).
FileInput = Union[
    str,
    "os.PathLike[str]",
    bytes,
    IO[bytes],
    Tuple[str, Union[bytes, IO[bytes]]],
    Tuple[str, Union[bytes, IO[bytes]], str],
]


def _files(files: Sequence[FileInput]) -> List[Tuple[str, Tuple[str, bytes, str]]]:
    """Multipart parts of the `files` field, read into memory so a retry can resend them."""
    parts = []
    for i, f in enumerate(files):
        ctype = "application/octet-stream"
        if isinstance(f, tuple):
            name, content = f[0], f[1]
            if len(f) > 2:
                ctype = f[2]  # type: ignore[misc]
        elif isinstance(f, (str, os.PathLike)):
            name, content = os.path.basename(os.fspath(f)), open(f, "rb").read()
        elif isinstance(f, bytes):
            name, content = f"file{i + 1}", f
        else:
            name, content = os.path.basename(getattr(f, "name", f"file{i + 1}")), f
        data = content if isinstance(content, bytes) else content.read()
        parts.append(("files", (name, data, ctype)))
    return parts


def _ds_body(**kw: Any) -> Dict[str, Any]:
    return strip_not_given(kw)


class Documents(SyncAPIResource):
    """Documents, by id."""

    def delete(self, document_id: str) -> None:
        """Deletes a document and its chunks from every index. Write scope."""
        self._client._request("DELETE", f"/documents/{seg(document_id)}")


class AsyncDocuments(AsyncAPIResource):
    """Documents, by id."""

    async def delete(self, document_id: str) -> None:
        """Deletes a document and its chunks from every index. Write scope."""
        await self._client._request("DELETE", f"/documents/{seg(document_id)}")


class DataSources(SyncAPIResource):
    """Where an agent's knowledge comes from: websites, files, connectors."""

    def list(
        self, *, limit: Optional[int] = None, offset: Optional[int] = None, status: Optional[str] = None
    ) -> SyncPage[DataSource]:
        """Data sources (optionally by `status`); iterate for all pages. Read scope."""
        params = {"limit": limit, "offset": offset, "status": status}
        return self._page("/data-sources", key="data_sources", item=DataSource, params=params)

    def create(
        self,
        *,
        type: str,
        name: str,
        config: Dict[str, Any] = NOT_GIVEN,
        sync_frequency: str = NOT_GIVEN,
    ) -> DataSource:
        """Creates a data source (status `pending`). Write scope."""
        body = _ds_body(type=type, name=name, config=config, sync_frequency=sync_frequency)
        return self._client._request("POST", "/data-sources", json=body, cast=DataSource)

    def get(self, data_source_id: str) -> DataSource:
        """One data source. Read scope."""
        return self._client._request("GET", f"/data-sources/{seg(data_source_id)}", cast=DataSource)

    def update(
        self,
        data_source_id: str,
        *,
        type: str = NOT_GIVEN,
        name: str = NOT_GIVEN,
        config: Dict[str, Any] = NOT_GIVEN,
        sync_frequency: str = NOT_GIVEN,
    ) -> DataSource:
        """Changes the given fields. Write scope."""
        body = _ds_body(type=type, name=name, config=config, sync_frequency=sync_frequency)
        return self._client._request("PUT", f"/data-sources/{seg(data_source_id)}", json=body, cast=DataSource)

    def delete(self, data_source_id: str) -> None:
        """Deletes a data source, its documents and chunks. Write scope."""
        self._client._request("DELETE", f"/data-sources/{seg(data_source_id)}")

    def sync(self, data_source_id: str) -> Job:
        """Queues a sync (or answers the one already queued or running). Write scope."""
        return self._client._request("POST", f"/data-sources/{seg(data_source_id)}/sync", cast=Job)

    def status(self, data_source_id: str) -> SyncStatus:
        """Status and progress of the current or last sync. Read scope."""
        return self._client._request("GET", f"/data-sources/{seg(data_source_id)}/status", cast=SyncStatus)

    def upload(self, data_source_id: str, files: Sequence[FileInput]) -> UploadResponse:
        """Uploads files into a `file` data source; a sync job ingests them. Write scope."""
        return self._client._request(
            "POST", f"/data-sources/{seg(data_source_id)}/files", files=_files(files), cast=UploadResponse
        )

    def documents(
        self, data_source_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> SyncPage[Document]:
        """The data source's documents with their state; iterate for all pages. Read scope."""
        path = f"/data-sources/{seg(data_source_id)}/documents"
        return self._page(path, key="documents", item=Document, params={"limit": limit, "offset": offset})


class AsyncDataSources(AsyncAPIResource):
    """Where an agent's knowledge comes from: websites, files, connectors."""

    def list(
        self, *, limit: Optional[int] = None, offset: Optional[int] = None, status: Optional[str] = None
    ) -> AsyncPaginator[DataSource]:
        """Data sources (optionally by `status`); `async for` walks all pages. Read scope."""
        params = {"limit": limit, "offset": offset, "status": status}
        return self._page("/data-sources", key="data_sources", item=DataSource, params=params)

    async def create(
        self,
        *,
        type: str,
        name: str,
        config: Dict[str, Any] = NOT_GIVEN,
        sync_frequency: str = NOT_GIVEN,
    ) -> DataSource:
        """Creates a data source (status `pending`). Write scope."""
        body = _ds_body(type=type, name=name, config=config, sync_frequency=sync_frequency)
        return await self._client._request("POST", "/data-sources", json=body, cast=DataSource)

    async def get(self, data_source_id: str) -> DataSource:
        """One data source. Read scope."""
        return await self._client._request("GET", f"/data-sources/{seg(data_source_id)}", cast=DataSource)

    async def update(
        self,
        data_source_id: str,
        *,
        type: str = NOT_GIVEN,
        name: str = NOT_GIVEN,
        config: Dict[str, Any] = NOT_GIVEN,
        sync_frequency: str = NOT_GIVEN,
    ) -> DataSource:
        """Changes the given fields. Write scope."""
        body = _ds_body(type=type, name=name, config=config, sync_frequency=sync_frequency)
        return await self._client._request(
            "PUT", f"/data-sources/{seg(data_source_id)}", json=body, cast=DataSource
        )

    async def delete(self, data_source_id: str) -> None:
        """Deletes a data source, its documents and chunks. Write scope."""
        await self._client._request("DELETE", f"/data-sources/{seg(data_source_id)}")

    async def sync(self, data_source_id: str) -> Job:
        """Queues a sync (or answers the one already queued or running). Write scope."""
        return await self._client._request("POST", f"/data-sources/{seg(data_source_id)}/sync", cast=Job)

    async def status(self, data_source_id: str) -> SyncStatus:
        """Status and progress of the current or last sync. Read scope."""
        return await self._client._request(
            "GET", f"/data-sources/{seg(data_source_id)}/status", cast=SyncStatus
        )

    async def upload(self, data_source_id: str, files: Sequence[FileInput]) -> UploadResponse:
        """Uploads files into a `file` data source; a sync job ingests them. Write scope."""
        return await self._client._request(
            "POST", f"/data-sources/{seg(data_source_id)}/files", files=_files(files), cast=UploadResponse
        )

    def documents(
        self, data_source_id: str, *, limit: Optional[int] = None, offset: Optional[int] = None
    ) -> AsyncPaginator[Document]:
        """The data source's documents with their state; `async for` walks all pages. Read scope."""
        path = f"/data-sources/{seg(data_source_id)}/documents"
        return self._page(path, key="documents", item=Document, params={"limit": limit, "offset": offset})
