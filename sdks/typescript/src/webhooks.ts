/**
 * Verifying deliveries: `X-Twig-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`, each `v1` the hex
 * HMAC-SHA256 of `"<t>.<raw body>"` under one signing secret (two during a rotation).
 * Web Crypto only: Node 18+, browsers, Deno, Bun, workers.
 */

import { TwigError } from './errors.js';

/** The request header carrying the signature. */
export const SIGNATURE_HEADER = 'X-Twig-Signature';

/** The signature is missing, malformed, stale, or made with another secret. */
export class WebhookVerificationError extends TwigError {}

export interface VerifyOptions {
  /** Largest age (or clock skew) of the timestamp in seconds; 0 skips the check. Default 300. */
  tolerance?: number;
  /** "Now" in unix seconds (for tests). */
  now?: number;
}

const enc = new TextEncoder();

function subtle(): SubtleCrypto {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c?.subtle) throw new TwigError('Web Crypto (globalThis.crypto.subtle) is not available');
  return c.subtle;
}

/** The hex `v1` signature of `payload` at `timestamp` under `secret`. */
export async function signWebhook(payload: string | Uint8Array, secret: string, timestamp: number): Promise<string> {
  const key = await subtle().importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const body = typeof payload === 'string' ? enc.encode(payload) : payload;
  const msg = new Uint8Array(enc.encode(`${timestamp}.`).length + body.length);
  msg.set(enc.encode(`${timestamp}.`));
  msg.set(body, enc.encode(`${timestamp}.`).length);
  const mac = new Uint8Array(await subtle().sign('HMAC', key, msg));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

function equal(a: string, b: string): boolean {
  // Constant time over equal lengths.
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks a delivery and returns its decoded JSON event. `payload` is the raw body as
 * received; `secret` one signing secret or several (new and old during a rotation).
 */
export async function verifyWebhook<T = unknown>(
  payload: string | Uint8Array,
  signatureHeader: string | null | undefined,
  secret: string | string[],
  options: VerifyOptions = {},
): Promise<T> {
  if (!signatureHeader) throw new WebhookVerificationError(`Missing ${SIGNATURE_HEADER} header`);
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of signatureHeader.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k === 't') {
      if (!/^-?\d+$/.test(v)) throw new WebhookVerificationError(`Malformed timestamp in the signature header: ${v}`);
      t = Number(v);
    } else if (k === 'v1') sigs.push(v);
  }
  if (t === undefined) throw new WebhookVerificationError('The signature header has no timestamp (t=...)');
  if (!sigs.length) throw new WebhookVerificationError('The signature header has no v1 signature');
  const tolerance = options.tolerance ?? 300;
  const now = options.now ?? Date.now() / 1000;
  if (tolerance && Math.abs(now - t) > tolerance) {
    throw new WebhookVerificationError(`Signature timestamp ${t} is outside the tolerance of ${tolerance}s`);
  }
  const secrets = Array.isArray(secret) ? secret : [secret];
  if (!secrets.length || secrets.some((s) => !s)) throw new WebhookVerificationError('No signing secret given');
  const expected = await Promise.all(secrets.map((s) => signWebhook(payload, s, t as number)));
  if (!expected.some((e) => sigs.some((s) => equal(e, s)))) {
    throw new WebhookVerificationError('No signature matches the signing secret');
  }
  const text = typeof payload === 'string' ? payload : new TextDecoder().decode(payload);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new WebhookVerificationError(`The payload is not JSON: ${(e as Error).message}`);
  }
}
