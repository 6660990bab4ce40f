/** One class per API resource. */

import type { Core, RequestOptions } from '../core.js';
import { PagePromise, type PageParams } from '../pagination.js';
import type * as T from '../types.js';

const seg = (v: string | number) => encodeURIComponent(String(v));

abstract class Resource {
  constructor(protected readonly core: Core) {}
  protected httpGet<R>(path: string, query?: Record<string, unknown>, opts?: RequestOptions): Promise<R> {
    return this.core.request<R>({ method: 'GET', path, query }, opts);
  }
  protected httpPost<R>(path: string, body?: unknown, opts?: RequestOptions): Promise<R> {
    return this.core.request<R>({ method: 'POST', path, body }, opts);
  }
  protected httpPut<R>(path: string, body: unknown, opts?: RequestOptions): Promise<R> {
    return this.core.request<R>({ method: 'PUT', path, body }, opts);
  }
  protected del(path: string, opts?: RequestOptions): Promise<void> {
    return this.core.request<void>({ method: 'DELETE', path }, opts);
  }
  protected page<R>(path: string, key: string, query: object = {}, opts?: RequestOptions): PagePromise<R> {
    return new PagePromise<R>(this.core, path, key, { ...query }, opts);
  }
}

/** Agents: `/agents`. */
export class Agents extends Resource {
  /** Agents, newest first; `for await` walks every page. Read scope. */
  list(params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.Agent>('/agents', 'agents', params, opts);
  }
  /** Creates an agent (`name` and `dataSourceIds` required). Write scope. */
  create(body: T.AgentInput & { name: string; dataSourceIds: string[] }, opts?: RequestOptions) {
    return this.httpPost<T.Agent>('/agents', body, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.Agent>(`/agents/${seg(id)}`, undefined, opts);
  }
  update(id: string, body: T.AgentInput, opts?: RequestOptions) {
    return this.httpPut<T.Agent>(`/agents/${seg(id)}`, body, opts);
  }
  delete(id: string, opts?: RequestOptions) {
    return this.del(`/agents/${seg(id)}`, opts);
  }
}

/** Documents by id: `/documents/{id}`. */
export class Documents extends Resource {
  /** Deletes a document and its chunks. Write scope. */
  delete(id: string, opts?: RequestOptions) {
    return this.del(`/documents/${seg(id)}`, opts);
  }
}

/** A file to upload: a Blob/File (its name used when it has one), or a name and contents. */
export type UploadFile = Blob | { name: string; data: Blob | Uint8Array | ArrayBuffer | string; type?: string };

/** Data sources: `/data-sources`. */
export class DataSources extends Resource {
  list(params: PageParams & { status?: string } = {}, opts?: RequestOptions) {
    return this.page<T.DataSource>('/data-sources', 'data_sources', params, opts);
  }
  create(body: T.DataSourceInput & { type: string; name: string }, opts?: RequestOptions) {
    return this.httpPost<T.DataSource>('/data-sources', body, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.DataSource>(`/data-sources/${seg(id)}`, undefined, opts);
  }
  update(id: string, body: T.DataSourceInput, opts?: RequestOptions) {
    return this.httpPut<T.DataSource>(`/data-sources/${seg(id)}`, body, opts);
  }
  delete(id: string, opts?: RequestOptions) {
    return this.del(`/data-sources/${seg(id)}`, opts);
  }
  /** Queues a sync (202), or answers the one already queued or running. Write scope. */
  sync(id: string, opts?: RequestOptions) {
    return this.httpPost<T.Job>(`/data-sources/${seg(id)}/sync`, undefined, opts);
  }
  status(id: string, opts?: RequestOptions) {
    return this.httpGet<T.SyncStatus>(`/data-sources/${seg(id)}/status`, undefined, opts);
  }
  /** Uploads files (multipart field `files`) into a `file` data source. Write scope. */
  upload(id: string, files: UploadFile[], opts?: RequestOptions) {
    const form = new FormData();
    files.forEach((f, i) => {
      if (f instanceof Blob) {
        form.append('files', f, (f as { name?: string }).name ?? `file${i + 1}`);
      } else {
        const part = f.data instanceof Blob ? f.data : new Blob([f.data as BlobPart], { type: f.type ?? 'application/octet-stream' });
        form.append('files', part, f.name);
      }
    });
    return this.core.request<T.UploadResponse>({ method: 'POST', path: `/data-sources/${seg(id)}/files`, form }, opts);
  }
  /** The data source's documents; `for await` walks every page. Read scope. */
  documents(id: string, params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.Document>(`/data-sources/${seg(id)}/documents`, 'documents', params, opts);
  }
}

/** Interactions: `/interactions`. */
export class Interactions extends Resource {
  list(params: T.InteractionFilters = {}, opts?: RequestOptions) {
    return this.page<T.Interaction>('/interactions', 'interactions', params, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.Interaction>(`/interactions/${seg(id)}`, undefined, opts);
  }
  /** Records `positive` or `negative` feedback. Execute scope. */
  feedback(id: string, body: T.FeedbackInput & { feedback: string }, opts?: RequestOptions) {
    return this.httpPost<T.Interaction>(`/interactions/${seg(id)}/feedback`, body, opts);
  }
}

/** Analytics: `/analytics`. Admin scope. */
export class AnalyticsResource extends Resource {
  get(params: T.AnalyticsParams, opts?: RequestOptions) {
    return this.httpGet<T.Analytics>('/analytics', params as unknown as Record<string, unknown>, opts);
  }
}

/** Users: `/users`. Admin scope. */
export class Users extends Resource {
  list(params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.User>('/users', 'users', params, opts);
  }
  create(body: T.UserInput & { email: string }, opts?: RequestOptions) {
    return this.httpPost<T.User>('/users', body, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.User>(`/users/${seg(id)}`, undefined, opts);
  }
  update(id: string, body: T.UserInput, opts?: RequestOptions) {
    return this.httpPut<T.User>(`/users/${seg(id)}`, body, opts);
  }
  delete(id: string, opts?: RequestOptions) {
    return this.del(`/users/${seg(id)}`, opts);
  }
}

/** Knowledge base: `/kb`; every update is a new version. */
export class KnowledgeBase extends Resource {
  list(params: PageParams & { status?: 'draft' | 'published' } = {}, opts?: RequestOptions) {
    return this.page<T.Article>('/kb', 'articles', params, opts);
  }
  create(body: T.ArticleInput & { title: string; content: string }, opts?: RequestOptions) {
    return this.httpPost<T.Article>('/kb', body, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.Article>(`/kb/${seg(id)}`, undefined, opts);
  }
  update(id: string, body: T.ArticleInput, opts?: RequestOptions) {
    return this.httpPut<T.Article>(`/kb/${seg(id)}`, body, opts);
  }
  delete(id: string, opts?: RequestOptions) {
    return this.del(`/kb/${seg(id)}`, opts);
  }
  versions(id: string, params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.ArticleVersion>(`/kb/${seg(id)}/versions`, 'versions', params, opts);
  }
  version(id: string, version: number, opts?: RequestOptions) {
    return this.httpGet<T.ArticleVersion>(`/kb/${seg(id)}/versions/${seg(version)}`, undefined, opts);
  }
}

/** Webhook endpoints: `/webhooks`. Admin scope. */
export class Webhooks extends Resource {
  list(params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.Webhook>('/webhooks', 'webhooks', params, opts);
  }
  /** Adds an endpoint; the answer's `secret` is shown only here and on rotation. */
  create(body: T.WebhookInput & { url: string; events: string[] }, opts?: RequestOptions) {
    return this.httpPost<T.WebhookWithSecret>('/webhooks', body, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.Webhook>(`/webhooks/${seg(id)}`, undefined, opts);
  }
  update(id: string, body: T.WebhookInput, opts?: RequestOptions) {
    return this.httpPut<T.Webhook>(`/webhooks/${seg(id)}`, body, opts);
  }
  delete(id: string, opts?: RequestOptions) {
    return this.del(`/webhooks/${seg(id)}`, opts);
  }
  /** A new secret; the old one keeps signing (a second `v1`) for the grace period. */
  rotateSecret(id: string, opts?: RequestOptions) {
    return this.httpPost<T.WebhookWithSecret>(`/webhooks/${seg(id)}/rotate-secret`, undefined, opts);
  }
  /** Queues a `ping` event. */
  test(id: string, opts?: RequestOptions) {
    return this.httpPost<T.Delivery>(`/webhooks/${seg(id)}/test`, undefined, opts);
  }
  deliveries(id: string, params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.Delivery>(`/webhooks/${seg(id)}/deliveries`, 'deliveries', params, opts);
  }
  /** Sends a delivery again, same event id and body. */
  redeliver(id: string, deliveryId: string, opts?: RequestOptions) {
    return this.httpPost<T.Delivery>(`/webhooks/${seg(id)}/deliveries/${seg(deliveryId)}/redeliver`, undefined, opts);
  }
}

/** API keys: `/api-keys`. Admin scope. */
export class ApiKeys extends Resource {
  list(params: PageParams = {}, opts?: RequestOptions) {
    return this.page<T.ApiKey>('/api-keys', 'api_keys', params, opts);
  }
  /** Creates a key; the answer's `secret` is shown only this once. */
  create(body: T.KeyInput & { name: string; scopes: string[] }, opts?: RequestOptions) {
    return this.httpPost<T.ApiKeyCreated>('/api-keys', body, opts);
  }
  get(id: string, opts?: RequestOptions) {
    return this.httpGet<T.ApiKey>(`/api-keys/${seg(id)}`, undefined, opts);
  }
  update(id: string, body: T.KeyUpdate, opts?: RequestOptions) {
    return this.httpPut<T.ApiKey>(`/api-keys/${seg(id)}`, body, opts);
  }
  /** Revokes a key: it is refused from then on. */
  revoke(id: string, opts?: RequestOptions) {
    return this.del(`/api-keys/${seg(id)}`, opts);
  }
}
