/** Offset pagination over `{"<plural>": [...], "total", "limit", "offset"}` lists. */

import type { Core, RequestOptions } from './core.js';

export interface PageParams {
  limit?: number;
  offset?: number;
}

/** One page; `for await` over it walks this and every following page. */
export class Page<T> implements AsyncIterable<T> {
  readonly data: T[];
  readonly total: number;
  readonly limit: number;
  readonly offset: number;

  constructor(
    private readonly core: Core,
    private readonly path: string,
    private readonly key: string,
    private readonly query: Record<string, unknown>,
    body: Record<string, unknown>,
    private readonly opts?: RequestOptions,
  ) {
    // Bodies arrive camelCased: `data_sources` is `dataSources` here.
    const field = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    this.data = (body[field] as T[] | undefined) ?? [];
    this.total = Number(body.total ?? this.data.length);
    this.limit = Number(body.limit ?? this.data.length);
    this.offset = Number(body.offset ?? 0);
  }

  /** Whether rows remain after this page. */
  hasNextPage(): boolean {
    return this.data.length > 0 && this.offset + this.data.length < this.total;
  }

  /** The following page, or null after the last. */
  async nextPage(): Promise<Page<T> | null> {
    if (!this.hasNextPage()) return null;
    const query = { ...this.query, offset: this.offset + this.data.length, limit: this.query.limit ?? this.limit };
    return fetchPage<T>(this.core, this.path, this.key, query, this.opts);
  }

  /** This page and each following one. */
  async *iterPages(): AsyncGenerator<Page<T>> {
    let page: Page<T> | null = this;
    while (page) {
      yield page;
      page = await page.nextPage();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const page of this.iterPages()) yield* page.data;
  }
}

async function fetchPage<T>(
  core: Core,
  path: string,
  key: string,
  query: Record<string, unknown>,
  opts?: RequestOptions,
): Promise<Page<T>> {
  const body = await core.request<Record<string, unknown>>({ method: 'GET', path, query }, opts);
  return new Page<T>(core, path, key, query, body, opts);
}

/** What `list()` returns: `await` it for the first page, or `for await` every item. */
export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  private first?: Promise<Page<T>>;

  constructor(
    private readonly core: Core,
    private readonly path: string,
    private readonly key: string,
    private readonly query: Record<string, unknown>,
    private readonly opts?: RequestOptions,
  ) {}

  private page(): Promise<Page<T>> {
    this.first ??= fetchPage<T>(this.core, this.path, this.key, this.query, this.opts);
    return this.first;
  }

  then<A = Page<T>, B = never>(
    ok?: ((value: Page<T>) => A | PromiseLike<A>) | null,
    fail?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.page().then(ok, fail);
  }

  catch<B = never>(fail?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<Page<T> | B> {
    return this.page().catch(fail);
  }

  finally(done?: (() => void) | null): Promise<Page<T>> {
    return this.page().finally(done);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* await this.page();
  }
}
