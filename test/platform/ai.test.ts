import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiProviders } from '../../src/platform/ai/providers.ts';
import { startOpenAiDouble } from '../doubles/openai.ts';

let double: Awaited<ReturnType<typeof startOpenAiDouble>>;
beforeAll(async () => {
  double = await startOpenAiDouble({ chat: () => 'مرحبا بالعالم hello world' });
});
afterAll(async () => {
  await double?.close();
});

describe('AI providers over an OpenAI-compatible API', () => {
  const cfg = () => ({
    llm: { provider: 'openai-compatible' as const, baseUrl: double.url, model: 'test-model', apiKey: 'sk-test' },
    embeddings: { baseUrl: double.url, model: 'emb' },
    transcription: { baseUrl: double.url, model: 'whisper' },
  });

  it('generates and streams text', async () => {
    const ai = new AiProviders(cfg());
    expect(await ai.generate(undefined, { prompt: 'hi' })).toBe('مرحبا بالعالم hello world');
    let streamed = '';
    for await (const d of ai.stream(undefined, { prompt: 'hi' })) streamed += d;
    expect(streamed).toBe('مرحبا بالعالم hello world');
    const chat = double.requests.find((r) => r.path.endsWith('/chat/completions'));
    expect(chat?.headers.authorization).toBe('Bearer sk-test');
  });

  it('embeds and transcribes', async () => {
    const ai = new AiProviders(cfg());
    const [v] = await ai.embed(['abc']);
    expect(v).toHaveLength(8);
    const t = await ai.transcribe(new Uint8Array([1, 2, 3]), { language: 'ar' });
    expect(t.text).toBe('transcribed text');
  });

  it('reports provider failures as UPSTREAM_ERROR', async () => {
    const failing = await startOpenAiDouble({ failWith: 500 });
    try {
      const ai = new AiProviders({ llm: { provider: 'openai-compatible', baseUrl: failing.url, model: 'm' } });
      await expect(ai.generate(undefined, { prompt: 'x' })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    } finally {
      await failing.close();
    }
  });

  it('uses an organisation key over the instance configuration', async () => {
    const ai = new AiProviders({});
    expect(await ai.llmFor('org')).toBeUndefined();
    ai.setByokResolver(async (orgId) => (orgId === 'org' ? { provider: 'openai-compatible', baseUrl: double.url, model: 'own', apiKey: 'sk-own' } : undefined));
    expect((await ai.llmFor('org'))?.model).toBe('own');
    expect(await ai.llmFor('other')).toBeUndefined();
    await expect(ai.transcribe(new Uint8Array([1]))).rejects.toMatchObject({ code: 'TRANSCRIPTION_UNAVAILABLE' });
  });
});
