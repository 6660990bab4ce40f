/** One error class per documented error code, each carrying the error body's fields. */

/** Base of every error this SDK throws. */
export class TwigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The server could not be reached, or the connection broke. */
export class APIConnectionError extends TwigError {
  readonly cause?: unknown;
  constructor(message = 'Connection error.', cause?: unknown) {
    super(message);
    this.cause = cause;
  }
}

/** The request took longer than `timeout`. */
export class APITimeoutError extends APIConnectionError {
  constructor() {
    super('Request timed out.');
  }
}

/** The caller's `AbortSignal` aborted the request. */
export class APIUserAbortError extends TwigError {
  constructor() {
    super('Request was aborted.');
  }
}

/** An error answer: `{"error": {code, message, details}, "request_id"}`. */
export class APIError extends TwigError {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly requestId: string | undefined;
  readonly headers: Headers;
  readonly body: unknown;
  /** The server's message (the `Error.message` adds status, code and request id). */
  readonly errorMessage: string;

  constructor(
    status: number,
    code: string,
    message: string,
    details: Record<string, unknown>,
    requestId: string | undefined,
    headers: Headers,
    body: unknown,
  ) {
    super(`${status} ${code}: ${message}${requestId ? ` (request ${requestId})` : ''}`);
    this.status = status;
    this.code = code;
    this.errorMessage = message;
    this.details = details;
    this.requestId = requestId;
    this.headers = headers;
    this.body = body;
  }
}

/** 400 `invalid_request`: a missing or malformed field. */
export class InvalidRequestError extends APIError {}
/** 401 `unauthorized`: the API key is missing, unknown or revoked. */
export class AuthenticationError extends APIError {}
/** 403 `forbidden`: the key lacks the scope the operation needs. */
export class PermissionDeniedError extends APIError {}
/** 404 `not_found`: no such resource or route. */
export class NotFoundError extends APIError {}
/** 429 `rate_limit_exceeded`; `retryAfter` is the server's `Retry-After` in seconds. */
export class RateLimitError extends APIError {
  get retryAfter(): number | undefined {
    return retryAfterSeconds(this.headers);
  }
}
/** 500 `internal_error`. */
export class InternalServerError extends APIError {}
/** 503 `service_unavailable`: maintenance or overload. */
export class ServiceUnavailableError extends APIError {}

type ErrorClass = new (...args: ConstructorParameters<typeof APIError>) => APIError;

const BY_CODE: Record<string, ErrorClass> = {
  invalid_request: InvalidRequestError,
  unauthorized: AuthenticationError,
  forbidden: PermissionDeniedError,
  not_found: NotFoundError,
  rate_limit_exceeded: RateLimitError,
  internal_error: InternalServerError,
  service_unavailable: ServiceUnavailableError,
};

const BY_STATUS: Record<number, ErrorClass> = {
  400: InvalidRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  429: RateLimitError,
  500: InternalServerError,
  503: ServiceUnavailableError,
};

/** Seconds of a `Retry-After` header (delta-seconds or an HTTP date). */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const raw = headers.get('retry-after');
  if (raw == null) return undefined;
  const n = Number(raw);
  if (!Number.isNaN(n)) return Math.max(0, n);
  const when = Date.parse(raw);
  return Number.isNaN(when) ? undefined : Math.max(0, (when - Date.now()) / 1000);
}

/** The error for an error answer: by documented code, else by status. */
export function errorFromResponse(status: number, headers: Headers, body: unknown): APIError {
  const b = body as { error?: { code?: string; message?: string; details?: unknown }; request_id?: string } | null;
  const err = b && typeof b === 'object' ? b.error : undefined;
  const code = (err && typeof err.code === 'string' && err.code) || '';
  const message = (err && typeof err.message === 'string' && err.message) || (typeof body === 'string' && body) || `HTTP ${status}`;
  const details = err && err.details && typeof err.details === 'object' ? (err.details as Record<string, unknown>) : {};
  const requestId = (b && typeof b === 'object' && b.request_id) || headers.get('x-request-id') || undefined;
  const Cls = BY_CODE[code] ?? BY_STATUS[status] ?? APIError;
  return new Cls(status, code || `http_${status}`, message, details, requestId, headers, body);
}
