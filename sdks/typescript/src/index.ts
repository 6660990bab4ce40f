/** `@twig/sdk`: the TypeScript/JavaScript SDK of the Twig API. */

import { Core, type ClientOptions, type RequestOptions } from './core.js';
import {
  Agents,
  AnalyticsResource,
  ApiKeys,
  DataSources,
  Documents,
  Interactions,
  KnowledgeBase,
  Users,
  Webhooks,
} from './resources/index.js';
import { QueryStream } from './streaming.js';
import type { Answer, Me, QueryInput, SemanticSearchInput, SemanticSearchOutput } from './types.js';

export type QueryParams = QueryInput & { agentId: string; query: string };

/** The client. `apiKey` defaults to TWIG_API_KEY, `baseUrl` to TWIG_BASE_URL (else https://api.twig.so). */
export class TwigClient {
  private readonly core: Core;
  readonly agents: Agents;
  readonly dataSources: DataSources;
  readonly documents: Documents;
  readonly interactions: Interactions;
  readonly analytics: AnalyticsResource;
  readonly users: Users;
  readonly kb: KnowledgeBase;
  readonly webhooks: Webhooks;
  readonly apiKeys: ApiKeys;

  constructor(options: ClientOptions = {}) {
    this.core = new Core(options);
    this.agents = new Agents(this.core);
    this.dataSources = new DataSources(this.core);
    this.documents = new Documents(this.core);
    this.interactions = new Interactions(this.core);
    this.analytics = new AnalyticsResource(this.core);
    this.users = new Users(this.core);
    this.kb = new KnowledgeBase(this.core);
    this.webhooks = new Webhooks(this.core);
    this.apiKeys = new ApiKeys(this.core);
  }

  get baseUrl(): string {
    return this.core.baseUrl;
  }

  /** Asks an agent (Execute scope). */
  query(params: QueryParams & { stream?: false }, opts?: RequestOptions): Promise<Answer>;
  /** Asks an agent and streams the answer: `for await (const event of stream)`. */
  query(params: QueryParams & { stream: true }, opts?: RequestOptions): Promise<QueryStream>;
  async query(params: QueryParams, opts?: RequestOptions): Promise<Answer | QueryStream> {
    if (params.stream) {
      const { response, abort } = await this.core.send({ method: 'POST', path: '/query', body: params, stream: true }, opts);
      opts?.signal?.addEventListener('abort', () => abort.abort(), { once: true });
      return new QueryStream(response, abort);
    }
    const { stream: _s, ...body } = params;
    return this.core.request<Answer>({ method: 'POST', path: '/query', body }, opts);
  }

  /** Chunks matching a query, without generation (Read scope). */
  semanticSearch(params: SemanticSearchInput & { query: string; orgId: string }, opts?: RequestOptions) {
    return this.core.request<SemanticSearchOutput>({ method: 'POST', path: '/semantic-search', body: params }, opts);
  }

  /** The calling key: its organisation and scopes. */
  me(opts?: RequestOptions) {
    return this.core.request<Me>({ method: 'GET', path: '/me' }, opts);
  }
}

export default TwigClient;
export type { ClientOptions, RequestOptions } from './core.js';
export { DEFAULT_BASE_URL, VERSION } from './core.js';
export * from './errors.js';
export { Page, PagePromise, type PageParams } from './pagination.js';
export { QueryStream, type QueryEvent, type SourcesEvent, type TokenEvent, type DoneEvent, type ErrorEvent } from './streaming.js';
export { verifyWebhook, signWebhook, WebhookVerificationError, SIGNATURE_HEADER, type VerifyOptions } from './webhooks.js';
export type * from './types.js';
export type { Camel, Snake } from './case.js';
export type { UploadFile } from './resources/index.js';
