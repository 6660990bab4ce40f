"""Lists page automatically and expose one page."""

from __future__ import annotations

import pytest

import twig


@pytest.fixture(scope="module")
def seven_articles(client):
    ids = [client.kb.create(title=f"page test {i}", content=f"body {i}", tags=["paging"]).id for i in range(7)]
    yield ids
    for i in ids:
        client.kb.delete(i)


def test_one_page_and_every_page(client, seven_articles):
    page = client.kb.list(limit=3)
    assert isinstance(page, twig.SyncPage)
    assert len(page.data) == 3 and page.limit == 3 and page.offset == 0
    assert page.total >= 7 and page.has_next_page()
    second = page.next_page()
    assert second is not None and second.offset == 3
    assert not {a.id for a in page.data} & {a.id for a in second.data}
    every = [a.id for a in client.kb.list(limit=3)]
    assert len(every) == page.total and len(set(every)) == len(every)
    assert set(seven_articles) <= set(every)
    pages = list(client.kb.list(limit=3).iter_pages())
    assert len(pages) == -(-page.total // 3)
    assert pages[-1].next_page() is None


@pytest.mark.anyio
async def test_async_pages(aclient, seven_articles):
    page = await aclient.kb.list(limit=2)
    assert len(page.data) == 2 and page.has_next_page()
    nxt = await page.next_page()
    assert nxt is not None and nxt.offset == 2
    every = [a.id async for a in aclient.kb.list(limit=2)]
    assert set(seven_articles) <= set(every) and len(every) == page.total
