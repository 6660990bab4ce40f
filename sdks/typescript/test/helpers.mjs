// The real `twig serve` built from this tree, and loopback servers speaking the wire formats
// the server talks to (an OpenAI-compatible chat model, a webhook receiver) or answers with.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..', '..');

export function twigBin() {
  const bin = process.env.TWIG_BIN || join(REPO, 'target', 'debug', 'twig');
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: build it first (cargo build --bin twig)`);
  return bin;
}

/** `twig serve` on a free port with a fresh data dir; resolves with { baseUrl, key, stop }. */
export async function startTwig(env = {}, config = '') {
  const dir = mkdtempSync(join(tmpdir(), 'twig-sdk-ts-'));
  if (config) writeFileSync(join(dir, 'twig.toml'), config);
  const childEnv = { ...process.env, TWIG_LOG__LEVEL: 'info', TWIG_EMBEDDING__PROVIDER: 'none', TWIG_RATE_LIMITS__ENABLED: 'false', ...env };
  delete childEnv.RUST_LOG;
  const child = spawn(twigBin(), ['serve', '--addr', '127.0.0.1:0', '--data-dir', dir], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  const baseUrl = await new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`twig serve did not start:\n${err}`)), 60000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(t);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`twig serve exited ${code}:\n${err}`)));
  });
  const deadline = Date.now() + 5000;
  let key;
  while (!(key = /\b(twigsk_\S+)/.exec(out)?.[1]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!key) throw new Error(`no bootstrap key printed:\n${out}`);
  return {
    baseUrl,
    key,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listen(handler) {
  const server = createServer(handler);
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const readBody = (req) => new Promise((ok) => { const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => ok(Buffer.concat(c))); });

/** An OpenAI-compatible chat server streaming 60 tokens 50 ms apart; notes client hang-ups. */
export async function slowChat() {
  const state = { disconnects: 0, completed: 0 };
  const server = await listen(async (req, res) => {
    const body = JSON.parse((await readBody(req)).toString() || '{}');
    if (!body.stream) {
      await new Promise((r) => setTimeout(r, 3000));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'c', object: 'chat.completion', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'close' });
    let closed = false;
    res.on('close', () => { if (!res.writableEnded) { closed = true; state.disconnects++; } });
    for (let i = 0; i < 60 && !closed; i++) {
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }] })}\n\n`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!closed) { res.end('data: [DONE]\n\n'); state.completed++; }
  });
  return { state, baseUrl: `http://127.0.0.1:${server.address().port}/v1`, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** A webhook endpoint recording each delivery's headers and raw body. */
export async function receiver() {
  const deliveries = [];
  const waiters = [];
  const server = await listen(async (req, res) => {
    const raw = await readBody(req);
    deliveries.push({ headers: req.headers, body: raw.toString('utf8') });
    res.end('ok');
    waiters.splice(0).forEach((w) => w());
  });
  async function waitFor(pred, timeout = 20000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const d = deliveries.find(pred);
      if (d) return d;
      if (Date.now() > deadline) throw new Error(`no matching delivery; got ${JSON.stringify(deliveries)}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
    }
  }
  return { url: `http://127.0.0.1:${server.address().port}/hook`, deliveries, waitFor, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** Answers everything with `status` and the documented error body (500/503 on demand). */
export async function errorServer(status, code, retryAfter) {
  const state = { count: 0 };
  const server = await listen(async (req, res) => {
    await readBody(req);
    state.count++;
    const headers = { 'content-type': 'application/json', 'x-request-id': `req_test${state.count}` };
    if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
    res.writeHead(status, headers);
    res.end(JSON.stringify({ error: { code, message: `simulated ${status}`, details: { n: state.count } }, request_id: `req_test${state.count}` }));
  });
  return { state, baseUrl: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitSynced(client, id, timeout = 60000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const st = await client.dataSources.status(id);
    if (['active', 'failed', 'partial'].includes(st.status) && st.progressPct === 100) return st;
    if (Date.now() > deadline) throw new Error(`sync of ${id} did not finish: ${JSON.stringify(st)}`);
    await sleep(200);
  }
}
