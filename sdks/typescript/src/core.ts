/** The transport: auth, timeouts, AbortSignal, and the reference's retry rule. */

import { camelize, snakeize } from './case.js';
import {
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  errorFromResponse,
  retryAfterSeconds,
} from './errors.js';

export const VERSION = '0.1.0';
export const DEFAULT_BASE_URL = 'https://api.twig.so';
/** The reference: back off on 429, 500 and 503; never retry 400, 401, 403 or 404. */
export const RETRY_STATUSES = new Set([429, 500, 503]);
const INITIAL_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 8000;
/** A `Retry-After` beyond this is not waited for: the error is thrown instead. */
const MAX_RETRY_AFTER_S = 60;

export interface ClientOptions {
  /** Defaults to `process.env.TWIG_API_KEY`. */
  apiKey?: string | undefined;
  /** Defaults to `process.env.TWIG_BASE_URL`, else https://api.twig.so. */
  baseUrl?: string | undefined;
  /** Milliseconds per attempt (default 60000). */
  timeout?: number;
  /** Retries of 429, 500 and 503 (default 2). */
  maxRetries?: number;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  defaultHeaders?: Record<string, string>;
}

/** Per-call options. */
export interface RequestOptions {
  /** Aborts the request (and a stream). */
  signal?: AbortSignal;
  /** Overrides the client's `timeout` for this call. */
  timeout?: number;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
}

export interface Request {
  method: string;
  path: string;
  query?: Record<string, unknown> | undefined;
  body?: unknown;
  form?: FormData;
  stream?: boolean;
}

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name] || undefined;
}

/** Milliseconds before retry number `attempt` (0-based), or undefined when not to retry. */
export function retryDelayMs(attempt: number, headers?: Headers): number | undefined {
  const after = headers ? retryAfterSeconds(headers) : undefined;
  if (after !== undefined) return after <= MAX_RETRY_AFTER_S ? after * 1000 : undefined;
  const delay = Math.min(INITIAL_RETRY_DELAY_MS * 2 ** attempt, MAX_RETRY_DELAY_MS);
  return delay * (1 - 0.25 * Math.random());
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new APIUserAbortError());
    }, { once: true });
  });

export class Core {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly timeout: number;
  readonly maxRetries: number;
  private readonly fetchImpl: typeof fetch;
  private readonly defaultHeaders: Record<string, string>;

  constructor(opts: ClientOptions = {}) {
    const apiKey = opts.apiKey ?? env('TWIG_API_KEY');
    if (!apiKey) {
      throw new Error('No API key: pass { apiKey } or set the TWIG_API_KEY environment variable.');
    }
    this.apiKey = apiKey;
    this.baseUrl = (opts.baseUrl ?? env('TWIG_BASE_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeout = opts.timeout ?? 60_000;
    this.maxRetries = opts.maxRetries ?? 2;
    if (this.maxRetries < 0) throw new Error('maxRetries must be >= 0');
    const f = opts.fetch ?? globalThis.fetch;
    if (!f) throw new Error('No global fetch: pass { fetch } (Node 18+ has one).');
    this.fetchImpl = f.bind(globalThis);
    this.defaultHeaders = opts.defaultHeaders ?? {};
  }

  private url(path: string, query?: Record<string, unknown>): string {
    const u = new URL(`${this.baseUrl}/api/v1${path}`);
    const q = query ? (snakeize(query) as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(q)) {
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  /**
   * Sends `req`, retrying 429/500/503 as the reference says; resolves to the successful
   * response (its body unread) or throws the error class of the answer.
   */
  async send(req: Request, opts: RequestOptions = {}): Promise<{ response: Response; abort: AbortController }> {
    const maxRetries = opts.maxRetries ?? this.maxRetries;
    const timeout = opts.timeout ?? this.timeout;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: req.stream ? 'text/event-stream' : 'application/json',
      ...this.defaultHeaders,
    };
    let body: BodyInit | undefined;
    if (req.form) {
      body = req.form;
    } else if (req.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(snakeize(req.body));
    }
    const url = this.url(req.path, req.query);
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw new APIUserAbortError();
      const abort = new AbortController();
      const onAbort = () => abort.abort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let timedOut = false;
      // A stream's timeout covers the wait for its headers; afterwards the caller controls it.
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, timeout);
      let response: Response;
      try {
        response = await this.fetchImpl(url, { method: req.method, headers, body, signal: abort.signal });
      } catch (e) {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (timedOut) throw new APITimeoutError();
        if (opts.signal?.aborted) throw new APIUserAbortError();
        throw new APIConnectionError(e instanceof Error ? e.message : String(e), e);
      }
      if (response.ok) {
        if (req.stream) {
          clearTimeout(timer);
          return { response, abort };
        }
        return { response: await this.buffered(response, timer, () => timedOut), abort };
      }
      let text = '';
      try {
        text = await response.text();
      } catch {
        // the body is best effort
      }
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      if (RETRY_STATUSES.has(response.status) && attempt < maxRetries) {
        const delay = retryDelayMs(attempt, response.headers);
        if (delay !== undefined) {
          await sleep(delay, opts.signal);
          continue;
        }
      }
      throw errorFromResponse(response.status, response.headers, parsed);
    }
  }

  /** Reads the whole body within the timeout, so a slow body times out too. */
  private async buffered(response: Response, timer: ReturnType<typeof setTimeout>, timedOut: () => boolean): Promise<Response> {
    try {
      const buf = await response.arrayBuffer();
      return new Response(response.status === 204 ? null : buf, { status: response.status, headers: response.headers });
    } catch (e) {
      if (timedOut()) throw new APITimeoutError();
      throw new APIConnectionError(e instanceof Error ? e.message : String(e), e);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A JSON request; the answer camelCased (undefined for 204). */
  async request<T>(req: Request, opts?: RequestOptions): Promise<T> {
    const { response } = await this.send(req, opts);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return camelize<T>(text ? JSON.parse(text) : undefined);
  }
}
