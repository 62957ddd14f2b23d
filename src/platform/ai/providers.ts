import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { embedMany, experimental_transcribe as transcribe, generateText, streamText, type EmbeddingModel, type LanguageModel, type TranscriptionModel } from 'ai';
import type { Config } from '../../config.ts';
import { AppError, defineErrors } from '../http/errors.ts';

export const AI_ERRORS = defineErrors({
  UPSTREAM_ERROR: {
    status: 502,
    en: 'The AI provider failed to answer ({reason}).',
    ar: 'تعذّر على مزوّد الذكاء الاصطناعي الرد ({reason}).',
  },
  TRANSCRIPTION_UNAVAILABLE: {
    status: 503,
    en: 'No transcription provider is configured. Set TRANSCRIPTION_BASE_URL and TRANSCRIPTION_MODEL (any OpenAI-compatible /audio/transcriptions server, such as faster-whisper or whisper.cpp) and restart.',
    ar: 'لم يُضبط مزوّد للتفريغ الصوتي. اضبط TRANSCRIPTION_BASE_URL و TRANSCRIPTION_MODEL (أي خادم متوافق مع OpenAI يوفّر ‎/audio/transcriptions مثل faster-whisper أو whisper.cpp) ثم أعد التشغيل.',
  },
});

/** Where an LLM lives: the instance's configuration or an organisation's own key (BYOK). */
export interface LlmSettings {
  provider: 'openai-compatible' | 'anthropic';
  baseUrl?: string;
  apiKey?: string;
  model: string;
}

/** Looks up an organisation's own LLM settings (BYOK), if it has any. */
export type ByokResolver = (orgId: string) => Promise<LlmSettings | undefined>;

export interface GenerateOptions {
  system?: string;
  prompt: string;
  /** Aborts the call (a client that went away, a job being stopped); the time limit applies as well. */
  signal?: AbortSignal;
  /** A tighter time limit than the instance's LLM_TIMEOUT_MS for this call. */
  timeoutMs?: number;
  maxOutputTokens?: number;
  temperature?: number;
}

/** Builds an `ai` SDK language model for the given settings. */
export function languageModel(s: LlmSettings): LanguageModel {
  if (s.provider === 'anthropic') {
    return createAnthropic({ ...(s.apiKey ? { apiKey: s.apiKey } : {}), ...(s.baseUrl ? { baseURL: s.baseUrl } : {}) })(s.model);
  }
  if (!s.baseUrl) throw new Error('an OpenAI-compatible provider needs a base URL');
  return createOpenAICompatible({ name: 'llm', baseURL: s.baseUrl, ...(s.apiKey ? { apiKey: s.apiKey } : {}) }).chatModel(s.model);
}

function upstream(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { name?: string; statusCode?: number; message?: string; lastError?: { statusCode?: number } };
  const status = e.statusCode ?? e.lastError?.statusCode;
  const reason = e.name === 'AbortError' || e.name === 'TimeoutError' ? 'timeout' : status ? `HTTP ${status}` : 'unreachable';
  return new AppError('UPSTREAM_ERROR', { reason });
}

/**
 * The AI providers of this instance (LLM, embeddings, transcription), each optional. Every feature
 * must work without them: callers check `hasLlm()` etc. and fall back to deterministic behaviour.
 */
export class AiProviders {
  private byok?: ByokResolver;
  private readonly embeddingModel?: EmbeddingModel;
  private readonly transcriptionModel?: TranscriptionModel;

  constructor(private readonly config: Pick<Config, 'llm' | 'embeddings' | 'transcription'> & { llmTimeoutMs?: number }) {
    if (config.embeddings) {
      const p = createOpenAICompatible({
        name: 'embeddings',
        baseURL: config.embeddings.baseUrl,
        ...(config.embeddings.apiKey ? { apiKey: config.embeddings.apiKey } : {}),
      });
      this.embeddingModel = p.embeddingModel(config.embeddings.model);
    }
    if (config.transcription) {
      const p = createOpenAI({ baseURL: config.transcription.baseUrl, apiKey: config.transcription.apiKey ?? 'not-needed' });
      this.transcriptionModel = p.transcription(config.transcription.model);
    }
  }

  /** Lets the organisations module supply per-organisation keys. */
  setByokResolver(resolver: ByokResolver): void {
    this.byok = resolver;
  }

  /** The LLM settings that apply to an organisation: its own key first, else the instance's. */
  async llmFor(orgId: string | undefined): Promise<LlmSettings | undefined> {
    if (orgId && this.byok) {
      const own = await this.byok(orgId);
      if (own) return own;
    }
    const l = this.config.llm;
    return l ? { provider: l.provider, baseUrl: l.baseUrl, model: l.model, ...(l.apiKey ? { apiKey: l.apiKey } : {}) } : undefined;
  }

  /** The caller's signal, if any, joined with the time limit of one LLM call. */
  private deadline(opts: GenerateOptions): AbortSignal {
    const limit = Math.min(opts.timeoutMs ?? Infinity, this.config.llmTimeoutMs ?? 60_000);
    const timeout = AbortSignal.timeout(limit);
    return opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  }

  /** Generates text with the organisation's LLM; throws UPSTREAM_ERROR on provider failure. */
  async generate(orgId: string | undefined, opts: GenerateOptions): Promise<string> {
    const settings = await this.llmFor(orgId);
    if (!settings) throw new Error('no LLM configured');
    try {
      const r = await generateText({
        model: languageModel(settings),
        ...(opts.system ? { system: opts.system } : {}),
        prompt: opts.prompt,
        maxRetries: 1,
        abortSignal: this.deadline(opts),
        ...(opts.maxOutputTokens ? { maxOutputTokens: opts.maxOutputTokens } : {}),
        temperature: opts.temperature ?? 0,
      });
      return r.text;
    } catch (err) {
      throw upstream(err);
    }
  }

  /** Streams text deltas from the organisation's LLM; errors surface as UPSTREAM_ERROR. */
  async *stream(orgId: string | undefined, opts: GenerateOptions): AsyncGenerator<string> {
    const settings = await this.llmFor(orgId);
    if (!settings) throw new Error('no LLM configured');
    let failure: unknown;
    const signal = this.deadline(opts);
    const result = streamText({
      model: languageModel(settings),
      ...(opts.system ? { system: opts.system } : {}),
      prompt: opts.prompt,
      maxRetries: 1,
      abortSignal: signal,
      temperature: opts.temperature ?? 0,
      onError: ({ error }) => {
        failure = error;
      },
    });
    try {
      for await (const delta of result.textStream) yield delta;
    } catch (err) {
      throw upstream(err);
    }
    if (failure) throw upstream(failure);
    // An aborted stream just ends: a timeout must not pass for a complete (empty) answer.
    if (signal.aborted) throw upstream(signal.reason);
  }

  hasEmbeddings(): boolean {
    return this.embeddingModel !== undefined;
  }

  /** Dimensions of the configured embeddings, when known from configuration. */
  get embeddingDimensions(): number | undefined {
    return this.config.embeddings?.dimensions;
  }

  /** Embeds texts in batches; throws UPSTREAM_ERROR on provider failure. */
  async embed(values: string[], signal?: AbortSignal): Promise<number[][]> {
    if (!this.embeddingModel) throw new Error('no embeddings provider configured');
    try {
      const r = await embedMany({ model: this.embeddingModel, values, maxRetries: 2, abortSignal: signal ?? AbortSignal.timeout(60_000) });
      return r.embeddings;
    } catch (err) {
      throw upstream(err);
    }
  }

  hasTranscription(): boolean {
    return this.transcriptionModel !== undefined;
  }

  /** Transcribes audio; 503 TRANSCRIPTION_UNAVAILABLE when no provider is configured. */
  async transcribe(audio: Uint8Array, opts: { language?: 'ar' | 'en'; signal?: AbortSignal } = {}): Promise<{ text: string; language?: string; durationS?: number }> {
    if (!this.transcriptionModel) throw new AppError('TRANSCRIPTION_UNAVAILABLE');
    try {
      const r = await transcribe({
        model: this.transcriptionModel,
        audio,
        maxRetries: 1,
        abortSignal: opts.signal ?? AbortSignal.timeout(300_000),
        ...(opts.language ? { providerOptions: { openai: { language: opts.language } } } : {}),
      });
      return { text: r.text, ...(r.language ? { language: r.language } : {}), ...(r.durationInSeconds !== undefined ? { durationS: r.durationInSeconds } : {}) };
    } catch (err) {
      throw upstream(err);
    }
  }
}
