/**
 * Streamed queries: `text/event-stream` decoded into typed events. Leaving a `for await`
 * early, calling `close()`, or aborting the caller's signal closes the connection, which
 * cancels the answer on the server.
 */

import { camelize } from './case.js';
import type { AnswerMetadata, ErrorBody, Source } from './types.js';

/** First event: the chunks the answer is grounded on. */
export interface SourcesEvent {
  event: 'sources';
  sources: Source[];
}
/** A piece of the answer; concatenate them. */
export interface TokenEvent {
  event: 'token';
  text: string;
}
/** Last event of a successful answer. */
export interface DoneEvent {
  event: 'done';
  metadata: AnswerMetadata;
}
/** The answer failed midway; `error` is the documented error body. */
export interface ErrorEvent {
  event: 'error';
  error: ErrorBody;
}
export type QueryEvent = SourcesEvent | TokenEvent | DoneEvent | ErrorEvent;

function toEvent(name: string, data: unknown): QueryEvent | undefined {
  switch (name) {
    case 'sources':
      return { event: 'sources', sources: camelize<Source[]>(data ?? []) };
    case 'token':
      return { event: 'token', text: String((data as { text?: string } | null)?.text ?? '') };
    case 'done':
      return { event: 'done', metadata: camelize<AnswerMetadata>(data) };
    case 'error':
      return { event: 'error', error: camelize<ErrorBody>(data) };
    default:
      return undefined; // an event this SDK does not know yet
  }
}

/** Async iterator of `SourcesEvent`, `TokenEvent`s, then `DoneEvent` (or `ErrorEvent`). */
export class QueryStream implements AsyncIterable<QueryEvent> {
  private consumed = false;

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {}

  /** Closes the connection; the server stops generating. */
  close(): void {
    this.controller.abort();
  }

  /** Reads the rest of the stream and returns the concatenated tokens. */
  async text(): Promise<string> {
    let out = '';
    for await (const e of this) if (e.event === 'token') out += e.text;
    return out;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<QueryEvent> {
    if (this.consumed) throw new Error('A stream can be iterated once.');
    this.consumed = true;
    const body = this.response.body;
    if (!body) return;
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let name = '';
    let data: string[] = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl: number;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
          if (line === '') {
            if (data.length || name) {
              const ev = toEvent(name || 'message', data.length ? JSON.parse(data.join('\n')) : null);
              name = '';
              data = [];
              if (ev) yield ev;
            }
            continue;
          }
          if (line.startsWith(':')) continue; // keep-alive comment
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          let v = i < 0 ? '' : line.slice(i + 1);
          if (v.startsWith(' ')) v = v.slice(1);
          if (field === 'event') name = v;
          else if (field === 'data') data.push(v);
        }
      }
    } finally {
      // Runs on normal end, on `break`/`return` in the consumer, and on errors.
      this.controller.abort();
      await reader.cancel().catch(() => undefined);
    }
  }
}
