import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the double answers; each handler may be replaced by a test. */
export interface OpenAiDoubleBehaviour {
  /** Reply text for a chat completion, from the request's messages. */
  chat(messages: Array<{ role: string; content: string }>): string;
  /** Embedding of one input. */
  embed(input: string): number[];
  /** Transcript of an uploaded audio file (raw multipart body given). */
  transcribe(body: Buffer): { text: string; language?: string; duration?: number };
  /** Force a status code on every request (e.g. 500) when set. */
  failWith?: number;
  /** Fail this many of the next requests with 500, then answer normally. */
  failNext?: number;
  /** A status to answer a given path with (e.g. fail the LLM while transcription works). */
  failOn?: (path: string) => number | undefined;
  /** Delay every response by this many ms. */
  delayMs?: number;
}

/** A local HTTP test double of an OpenAI-compatible API: chat (plain and streamed), embeddings, transcription, models. */
export async function startOpenAiDouble(behaviour: Partial<OpenAiDoubleBehaviour> = {}) {
  const b: OpenAiDoubleBehaviour = {
    chat: (messages) => `echo: ${messages.at(-1)?.content.slice(0, 40) ?? ''}`,
    embed: (input) => {
      // Deterministic 8-dimensional bag of character codes, normalised.
      const v = new Array(8).fill(0) as number[];
      for (let i = 0; i < input.length; i++) v[input.charCodeAt(i) % 8]! += 1;
      const n = Math.hypot(...v) || 1;
      return v.map((x) => x / n);
    },
    transcribe: () => ({ text: 'transcribed text', language: 'en', duration: 1.5 }),
    ...behaviour,
  };
  const requests: Array<{ path: string; body: unknown; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const isJson = (req.headers['content-type'] ?? '').includes('json');
    const body = isJson && raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : raw;
    const path = (req.url ?? '').replace(/\?.*$/, '');
    requests.push({ path, body, headers: req.headers });
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    const failing = b.failWith ?? b.failOn?.(path) ?? ((b.failNext ?? 0) > 0 ? 500 : undefined);
    if (failing) {
      if (!b.failWith && !b.failOn?.(path)) b.failNext! -= 1;
      res.writeHead(failing, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'forced failure', type: 'server_error' } }));
      return;
    }
    const json = (obj: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (path.endsWith('/models')) return json({ object: 'list', data: [{ id: 'test-model', object: 'model' }] });
    if (path.endsWith('/chat/completions')) {
      const { messages, stream, model } = body as { messages: Array<{ role: string; content: string }>; stream?: boolean; model: string };
      const text = b.chat(messages);
      if (!stream) {
        return json({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const words = text.split(/(\s+)/).filter(Boolean);
      for (const w of words) {
        res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    if (path.endsWith('/embeddings')) {
      const { input, model } = body as { input: string | string[]; model: string };
      const inputs = Array.isArray(input) ? input : [input];
      return json({ object: 'list', model, data: inputs.map((s, index) => ({ object: 'embedding', index, embedding: b.embed(s) })), usage: { prompt_tokens: 1, total_tokens: 1 } });
    }
    if (path.endsWith('/audio/transcriptions')) {
      const t = b.transcribe(raw);
      return json({ text: t.text, language: t.language ?? 'en', duration: t.duration ?? 1, segments: [] });
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `no route ${path}` } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    behaviour: b,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
