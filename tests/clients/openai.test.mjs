// The official `openai` npm package against Twig's OpenAI-compatible endpoint.
import assert from "node:assert/strict";
import OpenAI from "openai";

const agent = process.env.TWIG_AGENT;
const client = new OpenAI({ baseURL: `${process.env.TWIG_BASE}/v1`, apiKey: process.env.TWIG_KEY, maxRetries: 0 });

const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
assert.ok(ids.includes(agent), `models: ${ids}`);

const done = await client.chat.completions.create({
  model: agent,
  max_completion_tokens: 200,
  messages: [{ role: "user", content: "How long is the Twig Phone warranty?" }],
});
assert.equal(done.object, "chat.completion");
assert.match(done.choices[0].message.content, /two-year warranty/);
assert.match(done.twig.session_id, /^sess_/);
assert.ok(done.twig.sources.length > 0);

const stream = await client.chat.completions.create({
  model: "Handbook",
  messages: [{ role: "user", content: "How long does the Twig Phone battery last?" }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let usage = null;
let finish = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    text += c.delta?.content ?? "";
    finish = c.finish_reason ?? finish;
  }
}
assert.match(text, /thirty hours/);
assert.equal(finish, "stop");
assert.ok(usage && usage.total_tokens > 0);

await assert.rejects(
  client.chat.completions.create({ model: "nobody", messages: [{ role: "user", content: "hi" }] }),
  (e) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found",
);
const reader = new OpenAI({ baseURL: `${process.env.TWIG_BASE}/v1`, apiKey: process.env.TWIG_READ_KEY, maxRetries: 0 });
await assert.rejects(
  reader.chat.completions.create({ model: agent, messages: [{ role: "user", content: "hi" }] }),
  (e) => e instanceof OpenAI.PermissionDeniedError,
);
console.log("openai (npm): models, completion, stream, errors ok");
