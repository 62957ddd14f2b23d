import type { AiProviders } from '../../platform/ai/providers.ts';
import { AppError } from '../../platform/http/errors.ts';
import { splitSentences } from '../query/answer.ts';

/** A captured text made into an entry: a title, an optional summary, and the content. */
export interface Structured {
  title: string;
  summary?: string;
  content: string;
  /** Whether an LLM shaped it (false: the deterministic fallback). */
  structured: boolean;
  /** Why the LLM was not used when one is configured (its error code). */
  fallbackReason?: string;
}

/** One piece of knowledge noted in a shift log. */
export interface ShiftItem {
  kind: 'incident' | 'procedure' | 'note';
  title: string;
  content: string;
}

const MAX_TITLE = 300;
const MAX_SUMMARY = 2000;
const MAX_CONTENT = 200_000;

/** A title from the first sentence of a text, trimmed to 120 characters. */
export function titleFrom(text: string): string {
  const first = splitSentences(text)[0] ?? text.trim();
  const clean = first.replace(/\s+/g, ' ').trim();
  return clean.length <= 120 ? clean : `${clean.slice(0, 117).replace(/\s+\S*$/, '')}…`;
}

/** The first JSON object in a model's reply (models often wrap it in prose or a code fence). */
export function parseJsonObject(reply: string): Record<string, unknown> | undefined {
  const start = reply.indexOf('{');
  const end = reply.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  try {
    const v = JSON.parse(reply.slice(start, end + 1)) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const text = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : undefined);

const LANGUAGE_RULE = 'Write in the language of the text (Arabic stays Arabic, English stays English). Use only facts stated in the text; never add any.';

/**
 * Shapes captured text (a transcript, an interview answer) into an entry with the organisation's LLM
 * when one is configured; otherwise, or when the LLM fails or answers badly, the text itself with a
 * title from its first sentence. The content is never shorter than most of the original: a model that
 * drops facts is not trusted with the content, only with the title and summary.
 */
export async function structureText(
  ai: AiProviders,
  orgId: string,
  input: { text: string; what: string; context?: string; fallbackTitle?: string },
  signal?: AbortSignal,
): Promise<Structured> {
  const original = input.text.trim();
  const fallback = (reason?: string): Structured => ({
    title: (input.fallbackTitle ?? titleFrom(original)).slice(0, MAX_TITLE) || titleFrom(original),
    content: original.slice(0, MAX_CONTENT),
    structured: false,
    ...(reason ? { fallbackReason: reason } : {}),
  });
  if (!(await ai.llmFor(orgId))) return fallback();
  let reply: string;
  try {
    reply = await ai.generate(orgId, {
      system:
        `You turn ${input.what} into an entry of a company knowledge base. Reply with one JSON object and nothing else: ` +
        '{"title": "a specific title of at most 12 words", "summary": "one or two sentences", "content": "the full text, tidied into paragraphs or a Markdown list, keeping every fact"}. ' +
        LANGUAGE_RULE,
      prompt: `${input.context ? `${input.context}\n\n` : ''}Text:\n${original}`,
      maxOutputTokens: 4000,
      timeoutMs: 60_000,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (err instanceof AppError) return fallback(err.code);
    throw err;
  }
  const json = parseJsonObject(reply);
  const title = text(json?.title, MAX_TITLE);
  if (!json || !title) return fallback('LLM_REPLY_UNUSABLE');
  const summary = text(json.summary, MAX_SUMMARY);
  const content = text(json.content, MAX_CONTENT);
  const keepsFacts = content !== undefined && content.length >= original.length * 0.6;
  return { title, ...(summary ? { summary } : {}), content: keepsFacts ? content : original.slice(0, MAX_CONTENT), structured: true };
}

/** A title for a note: the LLM's when one is configured and answers, else the first sentence. */
export async function titleFor(ai: AiProviders, orgId: string, content: string): Promise<string> {
  if (!(await ai.llmFor(orgId))) return titleFrom(content);
  try {
    const reply = await ai.generate(orgId, {
      system: `Give a specific title of at most 12 words for this note from a company knowledge base. Reply with the title only, no quotes. ${LANGUAGE_RULE}`,
      prompt: content.slice(0, 8000),
      maxOutputTokens: 60,
      timeoutMs: 15_000,
    });
    const title = reply
      .split('\n')
      .map((l) => l.replace(/^["'«»“”#*\s]+|["'«»“”*\s]+$/gu, ''))
      .find((l) => l.length > 0);
    return title ? title.slice(0, MAX_TITLE) : titleFrom(content);
  } catch (err) {
    if (err instanceof AppError) return titleFrom(content);
    throw err;
  }
}

/**
 * The incidents, procedures and other knowledge a shift log's notes record, as separate items, by the
 * LLM; undefined when none is configured or it fails (the caller keeps the notes as one entry).
 */
export async function extractShiftItems(ai: AiProviders, orgId: string, notes: string, signal?: AbortSignal): Promise<ShiftItem[] | undefined> {
  if (!(await ai.llmFor(orgId))) return undefined;
  let reply: string;
  try {
    reply = await ai.generate(orgId, {
      system:
        'You read the notes of a work shift and list what the next shift and the company should know. Reply with one JSON object and nothing else: ' +
        '{"items": [{"kind": "incident" | "procedure" | "note", "title": "at most 12 words", "content": "what happened or what to do, in full"}]}. ' +
        `An incident is something that happened (a fault, an accident, an outage); a procedure is how something is done. ${LANGUAGE_RULE}`,
      prompt: notes,
      maxOutputTokens: 4000,
      timeoutMs: 60_000,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (err instanceof AppError) return undefined;
    throw err;
  }
  const items = parseJsonObject(reply)?.items;
  if (!Array.isArray(items)) return undefined;
  const out: ShiftItem[] = [];
  for (const raw of items.slice(0, 50)) {
    const r = raw as Record<string, unknown>;
    const title = text(r.title, MAX_TITLE);
    const content = text(r.content, MAX_CONTENT);
    if (!title || !content) continue;
    const kind = r.kind === 'incident' || r.kind === 'procedure' ? r.kind : 'note';
    out.push({ kind, title, content });
  }
  return out.length > 0 ? out : undefined;
}
