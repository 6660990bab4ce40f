// The SDK (the built ESM package) against the real server: every resource, pagination,
// streaming and cancel, retries, each error class, webhooks, and the README examples.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import ts from 'typescript';
import {
  TwigClient, Page, QueryStream, verifyWebhook, signWebhook, WebhookVerificationError,
  APIError, InvalidRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
  RateLimitError, InternalServerError, ServiceUnavailableError, APIConnectionError, APITimeoutError, APIUserAbortError,
} from '../dist/esm/index.js';
import { startTwig, slowChat, receiver, errorServer, sleep, waitSynced } from './helpers.mjs';

let srv, chat, hooks, client, ds, agent, slowAgent, orgId;

before(async () => {
  chat = await slowChat();
  hooks = await receiver();
  srv = await startTwig(
    {
      TWIG_WEBHOOKS__ALLOW_HTTP: 'true',
      TWIG_WEBHOOKS__ALLOW_PRIVATE_NETWORKS: 'true',
      TWIG_WEBHOOKS__RETRY_DELAYS_SECS: '[0.2, 0.2]',
      TWIG_ANSWER__SIMILARITY_THRESHOLD: '0',
      TWIG_LLM__DEFAULT_MODEL: 'extractive',
    },
    `[llm.providers.loop]\nkind = "openai"\nbase_url = "${chat.baseUrl}"\nmodels = ["slow"]\n`,
  );
  client = new TwigClient({ apiKey: srv.key, baseUrl: srv.baseUrl, maxRetries: 0 });
  orgId = (await client.me()).orgId;
  ds = await client.dataSources.create({ type: 'file', name: 'ts corpus' });
  const up = await client.dataSources.upload(ds.id, [
    { name: 'refunds.md', data: '# Refund policy\n\nProducts can be returned within 30 days of purchase for a full refund.' },
    { name: 'pricing.md', data: '# Pricing\n\nPricing starts at 99 dollars per month for the team plan.' },
    new File(['The Model Y phone has a two-year warranty.'], 'warranty.txt', { type: 'text/plain' }),
  ]);
  assert.equal(up.documentIds.length, 3);
  await waitSynced(client, ds.id);
  agent = await client.agents.create({ name: 'ts agent', dataSourceIds: [ds.id], model: 'extractive' });
  slowAgent = await client.agents.create({ name: 'ts slow', dataSourceIds: [ds.id], model: 'slow' });
});

after(async () => {
  await srv?.stop();
  await chat?.stop();
  await hooks?.stop();
});

test('environment and defaults', async () => {
  const saved = { ...process.env };
  try {
    process.env.TWIG_API_KEY = srv.key;
    process.env.TWIG_BASE_URL = srv.baseUrl;
    const c = new TwigClient();
    assert.equal(c.baseUrl, srv.baseUrl);
    assert.ok((await c.me()).scopes.includes('admin'));
    delete process.env.TWIG_BASE_URL;
    assert.equal(new TwigClient({ apiKey: 'x' }).baseUrl, 'https://api.twig.so');
    delete process.env.TWIG_API_KEY;
    assert.throws(() => new TwigClient(), /TWIG_API_KEY/);
  } finally {
    process.env = saved;
  }
});

test('agents: create, get, update, list, delete', async () => {
  const a = await client.agents.create({ name: 'Support Agent', dataSourceIds: [ds.id], systemPrompt: 'Be kind.', ragStrategy: 'cedar', model: 'extractive', temperature: 0.7, maxTokens: 500 });
  assert.match(a.id, /^agent_/);
  assert.deepEqual(a.dataSourceIds, [ds.id]);
  assert.equal((await client.agents.get(a.id)).systemPrompt, 'Be kind.');
  const u = await client.agents.update(a.id, { name: 'Renamed', maxTokens: 100 });
  assert.equal(u.name, 'Renamed');
  assert.equal(u.maxTokens, 100);
  const ids = [];
  for await (const x of client.agents.list()) ids.push(x.id);
  assert.ok(ids.includes(a.id));
  await client.agents.delete(a.id);
  await assert.rejects(client.agents.get(a.id), NotFoundError);
});

test('data sources: crud, sync, status, upload, documents, document delete', async () => {
  const w = await client.dataSources.create({ type: 'website', name: 'Docs', config: { url: 'https://docs.example.com', maxPages: 10 }, syncFrequency: 'daily' });
  assert.equal(w.status, 'pending');
  assert.equal((await client.dataSources.get(w.id)).syncFrequency, 'daily');
  assert.equal((await client.dataSources.update(w.id, { syncFrequency: 'weekly' })).syncFrequency, 'weekly');
  assert.ok((await client.dataSources.list()).data.some((d) => d.id === w.id));
  await client.dataSources.delete(w.id);
  await assert.rejects(client.dataSources.get(w.id), NotFoundError);

  const f = await client.dataSources.create({ type: 'file', name: 'uploads' });
  const up = await client.dataSources.upload(f.id, [{ name: 'a.txt', data: new TextEncoder().encode('alpha bravo') }, { name: 'b.txt', data: 'charlie delta' }]);
  assert.match(up.job.id, /^job_/);
  const st = await waitSynced(client, f.id);
  assert.equal(st.status, 'active');
  assert.equal(st.documentsDone, 2);
  const job = await client.dataSources.sync(f.id);
  assert.match(job.id, /^job_/);
  await waitSynced(client, f.id);
  await client.documents.delete(up.documentIds[0]);
  const left = [];
  for await (const d of client.dataSources.documents(f.id)) left.push(d.id);
  assert.deepEqual(left, [up.documentIds[1]]);
  await client.dataSources.delete(f.id);
});

test('query (the reference example), interactions, feedback, analytics, semantic search', async () => {
  const response = await client.query({ agentId: agent.id, query: 'What is your refund policy?' });
  assert.ok(response.response.length > 0);
  assert.match(response.sources[0].chunkId, /^chk_/);
  const iid = response.metadata.interactionId;
  assert.match(iid, /^int_/);
  assert.equal((await client.interactions.get(iid)).query, 'What is your refund policy?');
  assert.equal((await client.interactions.feedback(iid, { feedback: 'positive', comment: 'Very helpful!' })).feedback, 'positive');
  const listed = await client.interactions.list({ agentId: agent.id, feedback: 'positive' });
  assert.ok(listed.data.some((i) => i.id === iid));
  const day = new Date().toISOString().slice(0, 10);
  const report = await client.analytics.get({ startDate: day, endDate: day, granularity: 'hour' });
  assert.ok(report.metrics.totalQueries >= 1);
  const hits = await client.semanticSearch({ query: 'pricing per month', orgId, topK: 3, dataSourceIds: [ds.id] });
  assert.equal(hits.chunks[0].documentTitle, 'Pricing');
});

test('users, kb with versions, api keys', async () => {
  const u = await client.users.create({ email: 'ts@example.com', name: 'TS', role: 'train' });
  assert.equal((await client.users.update(u.id, { role: 'admin' })).role, 'admin');
  assert.equal((await client.users.get(u.id)).email, 'ts@example.com');
  assert.ok((await client.users.list()).data.some((x) => x.id === u.id));
  await client.users.delete(u.id);
  await assert.rejects(client.users.get(u.id), NotFoundError);

  const a = await client.kb.create({ title: 'Reset password', content: 'v1', tags: ['auth'], status: 'published' });
  await client.kb.update(a.id, { content: 'v2' });
  assert.equal((await client.kb.get(a.id)).content, 'v2');
  const versions = [];
  for await (const v of client.kb.versions(a.id)) versions.push(v.version);
  assert.deepEqual(versions, [2, 1]);
  assert.equal((await client.kb.version(a.id, 1)).content, 'v1');
  assert.ok((await client.kb.list({ status: 'published' })).data.some((x) => x.id === a.id));
  await client.kb.delete(a.id);

  const k = await client.apiKeys.create({ name: 'reader', scopes: ['read'] });
  assert.match(k.secret, /^twigsk_/);
  assert.equal((await client.apiKeys.update(k.id, { name: 'reader 2' })).name, 'reader 2');
  assert.equal((await client.apiKeys.get(k.id)).name, 'reader 2');
  assert.ok((await client.apiKeys.list()).data.some((x) => x.id === k.id));
  const reader = new TwigClient({ apiKey: k.secret, baseUrl: srv.baseUrl });
  assert.deepEqual((await reader.me()).scopes, ['read']);
  await assert.rejects(reader.agents.create({ name: 'x', dataSourceIds: [] }), PermissionDeniedError);
  await client.apiKeys.revoke(k.id);
  await assert.rejects(reader.me(), AuthenticationError);
});

test('pagination: one page, next page, every page', async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await client.kb.create({ title: `p${i}`, content: `c${i}` })).id);
  const page = await client.kb.list({ limit: 2 });
  assert.ok(page instanceof Page);
  assert.equal(page.data.length, 2);
  assert.ok(page.hasNextPage());
  const second = await page.nextPage();
  assert.equal(second.offset, 2);
  const all = [];
  for await (const a of client.kb.list({ limit: 2 })) all.push(a.id);
  assert.equal(all.length, page.total);
  assert.ok(ids.every((i) => all.includes(i)));
  let pages = 0;
  for await (const _ of page.iterPages()) pages++;
  assert.equal(pages, Math.ceil(page.total / 2));
  for (const i of ids) await client.kb.delete(i);
});

test('streaming: sources, tokens, done', async () => {
  const stream = await client.query({ agentId: agent.id, query: 'What is your refund policy?', stream: true });
  assert.ok(stream instanceof QueryStream);
  const events = [];
  for await (const e of stream) events.push(e);
  assert.equal(events[0].event, 'sources');
  assert.ok(events[0].sources.length > 0);
  const done = events.at(-1);
  assert.equal(done.event, 'done');
  const text = events.filter((e) => e.event === 'token').map((e) => e.text).join('');
  assert.equal(text, (await client.interactions.get(done.metadata.interactionId)).response);
});

async function waitDisconnect(before) {
  const deadline = Date.now() + 10000;
  while (chat.state.disconnects === before && Date.now() < deadline) await sleep(50);
  return chat.state.disconnects > before;
}

test('streaming: breaking out of for-await cancels the model call', async () => {
  const before = chat.state.disconnects;
  const completed = chat.state.completed;
  const stream = await client.query({ agentId: slowAgent.id, query: 'What is pricing?', stream: true });
  for await (const e of stream) if (e.event === 'token') break;
  assert.ok(await waitDisconnect(before), 'the model call was not cancelled');
  assert.equal(chat.state.completed, completed);
  const deadline = Date.now() + 10000;
  let cancelled = [];
  while (!cancelled.length && Date.now() < deadline) {
    cancelled = (await client.interactions.list({ agentId: slowAgent.id })).data.filter((i) => i.status === 'cancelled');
    await sleep(100);
  }
  assert.ok(cancelled.length > 0);
});

test('streaming: an AbortSignal cancels', async () => {
  const before = chat.state.disconnects;
  const ac = new AbortController();
  const stream = await client.query({ agentId: slowAgent.id, query: 'What is pricing?', stream: true }, { signal: ac.signal });
  const it = stream[Symbol.asyncIterator]();
  assert.equal((await it.next()).value.event, 'sources');
  ac.abort();
  await assert.rejects(async () => { for (;;) { const r = await it.next(); if (r.done) throw new Error('ended'); } });
  assert.ok(await waitDisconnect(before));
  await assert.rejects(client.me({ signal: AbortSignal.abort() }), APIUserAbortError);
});

test('errors: each class carries status, code, message, details, requestId', async () => {
  const e400 = await client.agents.create({ name: 'x', dataSourceIds: ['not-a-ds'] }).catch((e) => e);
  assert.ok(e400 instanceof InvalidRequestError && e400 instanceof APIError);
  assert.equal(e400.status, 400);
  assert.equal(e400.code, 'invalid_request');
  assert.ok(e400.errorMessage);
  assert.match(e400.requestId, /^req_/);
  assert.equal(typeof e400.details, 'object');
  const bad = new TwigClient({ apiKey: 'twigsk_live_wrong', baseUrl: srv.baseUrl });
  const e401 = await bad.me().catch((e) => e);
  assert.ok(e401 instanceof AuthenticationError);
  assert.equal(e401.code, 'unauthorized');
  const e404 = await client.agents.get('agent_nope').catch((e) => e);
  assert.ok(e404 instanceof NotFoundError);
  assert.equal(e404.status, 404);
  const gone = new TwigClient({ apiKey: 'x', baseUrl: 'http://127.0.0.1:9' });
  await assert.rejects(gone.me(), APIConnectionError);
  const slow = new TwigClient({ apiKey: srv.key, baseUrl: srv.baseUrl, timeout: 300 });
  await assert.rejects(slow.query({ agentId: slowAgent.id, query: 'pricing?' }), APITimeoutError);
});

for (const [status, code, Cls] of [[500, 'internal_error', InternalServerError], [503, 'service_unavailable', ServiceUnavailableError]]) {
  test(`retries: ${status} backs off and gives up after maxRetries`, async () => {
    const es = await errorServer(status, code);
    try {
      const c = new TwigClient({ apiKey: 'x', baseUrl: es.baseUrl, maxRetries: 2 });
      const t0 = Date.now();
      const e = await c.agents.list().catch((x) => x);
      const elapsed = Date.now() - t0;
      assert.ok(e instanceof Cls, String(e));
      assert.equal(es.state.count, 3);
      assert.ok(elapsed >= 1125 && elapsed < 5000, String(elapsed));
      assert.equal(e.requestId, 'req_test3');
      assert.deepEqual(e.details, { n: 3 });
    } finally {
      await es.stop();
    }
  });
}

for (const [status, code, Cls] of [[400, 'invalid_request', InvalidRequestError], [401, 'unauthorized', AuthenticationError], [403, 'forbidden', PermissionDeniedError], [404, 'not_found', NotFoundError]]) {
  test(`retries: ${status} is never retried`, async () => {
    const es = await errorServer(status, code, '0');
    try {
      const c = new TwigClient({ apiKey: 'x', baseUrl: es.baseUrl, maxRetries: 5 });
      await assert.rejects(c.agents.get('agent_x'), Cls);
      assert.equal(es.state.count, 1);
    } finally {
      await es.stop();
    }
  });
}

test('retries: Retry-After is honoured, a long one is not waited for, streams retry before their first byte', async () => {
  const short = await errorServer(429, 'rate_limit_exceeded', '1');
  const long = await errorServer(503, 'service_unavailable', '120');
  const zero = await errorServer(503, 'service_unavailable', '0');
  try {
    let t0 = Date.now();
    const e = await new TwigClient({ apiKey: 'x', baseUrl: short.baseUrl, maxRetries: 1 }).me().catch((x) => x);
    assert.ok(e instanceof RateLimitError);
    assert.equal(short.state.count, 2);
    assert.ok(Date.now() - t0 >= 1000);
    t0 = Date.now();
    await assert.rejects(new TwigClient({ apiKey: 'x', baseUrl: long.baseUrl, maxRetries: 3 }).me(), ServiceUnavailableError);
    assert.equal(long.state.count, 1);
    assert.ok(Date.now() - t0 < 1000);
    await assert.rejects(new TwigClient({ apiKey: 'x', baseUrl: zero.baseUrl, maxRetries: 2 }).query({ agentId: 'agent_x', query: 'hi', stream: true }), ServiceUnavailableError);
    assert.equal(zero.state.count, 3);
  } finally {
    await short.stop();
    await long.stop();
    await zero.stop();
  }
});

test('retries: a 429 from a tight rate limit is retried after Retry-After', async () => {
  const limited = await startTwig({ TWIG_RATE_LIMITS__ENABLED: 'true', TWIG_RATE_LIMITS__WRITE_PER_MINUTE: '60', TWIG_RATE_LIMITS__WRITE_BURST: '2' });
  try {
    const noRetry = new TwigClient({ apiKey: limited.key, baseUrl: limited.baseUrl, maxRetries: 0 });
    let err;
    for (let i = 0; i < 4 && !err; i++) err = await noRetry.agents.create({ name: `n${i}`, dataSourceIds: [] }).then(() => undefined, (e) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.equal(err.retryAfter, 1);
    await sleep(2100);
    const c = new TwigClient({ apiKey: limited.key, baseUrl: limited.baseUrl, maxRetries: 3 });
    const t0 = Date.now();
    const made = [];
    for (let i = 0; i < 4; i++) made.push((await c.agents.create({ name: `r${i}`, dataSourceIds: [] })).id);
    assert.equal(new Set(made).size, 4);
    assert.ok(Date.now() - t0 >= 1800, String(Date.now() - t0));
  } finally {
    await limited.stop();
  }
});

test('webhooks: verifyWebhook rules', async () => {
  const body = '{"event":"ping"}';
  const now = Math.floor(Date.now() / 1000);
  const header = `t=${now},v1=${await signWebhook(body, 'whsec_new', now)},v1=${await signWebhook(body, 'whsec_old', now)}`;
  assert.deepEqual(await verifyWebhook(body, header, 'whsec_new'), { event: 'ping' });
  assert.deepEqual(await verifyWebhook(new TextEncoder().encode(body), header, ['whsec_x', 'whsec_old']), { event: 'ping' });
  await assert.rejects(verifyWebhook(body, header, 'whsec_other'), WebhookVerificationError);
  await assert.rejects(verifyWebhook(body + ' ', header, 'whsec_new'), WebhookVerificationError);
  const stale = now - 301;
  const old = `t=${stale},v1=${await signWebhook(body, 'whsec_new', stale)}`;
  await assert.rejects(verifyWebhook(body, old, 'whsec_new'), /tolerance/);
  assert.ok(await verifyWebhook(body, old, 'whsec_new', { tolerance: 0 }));
  for (const h of ['', 'v1=ab', `t=${now}`, 't=x,v1=ab']) await assert.rejects(verifyWebhook(body, h, 'whsec_new'), WebhookVerificationError);
  // The server's test vector (crates/twig-core/src/webhook.rs): openssl dgst -sha256 -hmac whsec_test.
  const vector = '38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789';
  assert.equal(await signWebhook('{"a":1}', 'whsec_test', 1700000000), vector);
  assert.deepEqual(await verifyWebhook('{"a":1}', `t=1700000000,v1=${vector}`, 'whsec_test', { tolerance: 0 }), { a: 1 });
});

test('webhooks: real deliveries, rotation, deliveries, redeliver', async () => {
  const wh = await client.webhooks.create({ url: hooks.url, events: ['interaction.completed'] });
  assert.match(wh.id, /^wh_/);
  assert.equal((await client.webhooks.get(wh.id)).url, hooks.url);
  assert.ok((await client.webhooks.list()).data.some((w) => w.id === wh.id));
  const r = await client.query({ agentId: agent.id, query: 'What does pricing start at?' });
  const iid = r.metadata.interactionId;
  let d = await hooks.waitFor((x) => x.body.includes(iid));
  const ev = await verifyWebhook(d.body, d.headers['x-twig-signature'], wh.secret);
  assert.equal(ev.event, 'interaction.completed');
  assert.equal(ev.data.interaction_id, iid);
  const ping = await client.webhooks.test(wh.id);
  await hooks.waitFor((x) => x.headers['x-twig-delivery'] === ping.id);
  const rotated = await client.webhooks.rotateSecret(wh.id);
  assert.notEqual(rotated.secret, wh.secret);
  const ping2 = await client.webhooks.test(wh.id);
  d = await hooks.waitFor((x) => x.headers['x-twig-delivery'] === ping2.id);
  const sig = d.headers['x-twig-signature'];
  assert.equal(sig.split('v1=').length - 1, 2);
  await verifyWebhook(d.body, sig, rotated.secret);
  await verifyWebhook(d.body, sig, wh.secret);
  const listed = [];
  for await (const x of client.webhooks.deliveries(wh.id)) listed.push(x.id);
  assert.ok(listed.includes(ping.id));
  const again = await client.webhooks.redeliver(wh.id, ping.id);
  const first = JSON.parse((await hooks.waitFor((x) => x.headers['x-twig-delivery'] === ping.id)).body);
  const second = JSON.parse((await hooks.waitFor((x) => x.headers['x-twig-delivery'] === again.id)).body);
  assert.equal(second.id, first.id);
  assert.equal((await client.webhooks.update(wh.id, { enabled: false })).enabled, false);
  await client.webhooks.delete(wh.id);
  await assert.rejects(client.webhooks.get(wh.id), NotFoundError);
});

test('CommonJS build works too', async () => {
  const require = createRequire(import.meta.url);
  const cjs = require('../dist/cjs/index.js');
  const c = new cjs.TwigClient({ apiKey: srv.key, baseUrl: srv.baseUrl });
  assert.equal((await c.me()).orgId, orgId);
  assert.ok(typeof cjs.verifyWebhook === 'function');
});

test('README examples run as written', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 6, 'the README lost its examples');
  const saved = { ...process.env };
  process.env.TWIG_API_KEY = srv.key;
  process.env.TWIG_BASE_URL = srv.baseUrl;
  process.env.WEBHOOK_URL = hooks.url;
  const logs = [];
  const log = console.log;
  console.log = (...a) => logs.push(a.join(' '));
  try {
    // One module: the blocks in order, the import lines pointed at the built package.
    const src = blocks.join('\n').replaceAll("from '@twig/sdk'", `from '${new URL('../dist/esm/index.js', import.meta.url)}'`);
    const imports = src.split('\n').filter((l) => l.startsWith('import ')).join('\n');
    const rest = src.split('\n').filter((l) => !l.startsWith('import ')).join('\n');
    // Type-checked against the SDK's sources (strict), then compiled to JavaScript and run.
    const checkFile = new URL('./readme.check.ts', import.meta.url);
    writeFileSync(checkFile, `${imports.replaceAll(`from '${new URL('../dist/esm/index.js', import.meta.url)}'`, "from '../src/index.js'")}\n${rest}\nexport {};\n`);
    try {
      execFileSync(process.execPath, [new URL('../node_modules/typescript/bin/tsc', import.meta.url).pathname, '--noEmit', '--strict', '--target', 'ES2022',
        '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--lib', 'ES2022,DOM,DOM.Iterable', '--types', 'node', '--skipLibCheck',
        checkFile.pathname], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      assert.fail(`README TypeScript does not type-check:\n${e.stdout}${e.stderr}`);
    } finally {
      rmSync(checkFile, { force: true });
    }
    const mod = ts.transpileModule(`${imports}\n${rest}\n`, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const file = join(mkdtempSync(join(tmpdir(), 'twig-readme-')), 'readme.mjs');
    writeFileSync(file, mod);
    await import(pathToFileURL(file).href);
  } finally {
    console.log = log;
    process.env = saved;
  }
  assert.ok(logs.join('\n').toLowerCase().includes('refund'), logs.join('\n'));
});
