"""The official `openai` Python package against Twig's OpenAI-compatible endpoint."""

import os

import openai

base = os.environ["TWIG_BASE"] + "/v1"
agent = os.environ["TWIG_AGENT"]
client = openai.OpenAI(base_url=base, api_key=os.environ["TWIG_KEY"], max_retries=0)

# List models: the org's agents.
models = client.models.list()
ids = [m.id for m in models.data]
assert agent in ids, ids
assert client.models.retrieve(agent).id == agent

# A plain completion, the agent named by its name, with history.
done = client.chat.completions.create(
    model="Handbook",
    temperature=0.1,
    max_tokens=200,
    messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Tell me about the Twig Phone."},
        {"role": "assistant", "content": "It is a phone."},
        {"role": "user", "content": "How long is the Twig Phone warranty?"},
    ],
)
assert done.object == "chat.completion", done
answer = done.choices[0].message.content
assert done.choices[0].message.role == "assistant"
assert "two-year warranty" in answer, answer
assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
twig = done.model_extra["twig"]
assert twig["session_id"].startswith("sess_"), twig
assert twig["interaction_id"].startswith("int_"), twig
assert any("warranty" in s["chunk_text"] for s in twig["sources"]), twig

# Streamed, with usage.
stream = client.chat.completions.create(
    model=agent,
    messages=[{"role": "user", "content": "How long does the Twig Phone battery last?"}],
    stream=True,
    stream_options={"include_usage": True},
)
text, usage, finish, ext = "", None, None, None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for c in chunk.choices:
        text += c.delta.content or ""
        finish = c.finish_reason or finish
    ext = (chunk.model_extra or {}).get("twig") or ext
assert "thirty hours" in text, text
assert finish == "stop"
assert usage and usage.completion_tokens > 0, usage
assert ext and ext["interaction_id"].startswith("int_"), ext

# Errors arrive as the library's typed exceptions.
try:
    client.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as e:
    assert e.code == "model_not_found", e.body
try:
    openai.OpenAI(base_url=base, api_key="twigsk_live_wrong", max_retries=0).models.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError:
    pass
try:
    openai.OpenAI(base_url=base, api_key=os.environ["TWIG_READ_KEY"], max_retries=0).chat.completions.create(
        model=agent, messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("a key without Execute was allowed to ask")
except openai.PermissionDeniedError:
    pass
print("openai (Python): models, completion, stream, errors ok")
