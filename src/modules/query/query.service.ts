import { and, asc, count, desc, eq, gte, lt, sql } from 'drizzle-orm';
import { knowledgeGaps, queryLog } from '../../db/schema/index.ts';
import type { AiProviders } from '../../platform/ai/providers.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import { queryRows, type Db } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { pageOf, type PageRequest } from '../../platform/http/pagination.ts';
import type { Outbox } from '../../platform/jobs/outbox.ts';
import { extractAnswer, type Passage } from './answer.ts';
import { closestGap, gapKey } from './gaps.ts';

defineErrors({
  GAP_ALREADY_RESOLVED: { status: 409, en: 'This knowledge gap is already resolved.', ar: 'هذه الفجوة المعرفية محلولة بالفعل.' },
  INVALID_RANGE: { status: 422, en: 'The date range is invalid: from must be before to.', ar: 'نطاق التاريخ غير صالح: يجب أن يسبق from قيمة to.' },
});

/** Entry filters shared by search and questions. */
export interface EntryFilters {
  tag_ids?: string[];
  department_id?: string;
  category_id?: string;
  language?: 'ar' | 'en' | 'mixed';
  verified?: boolean;
}

/** One ranked passage of an entry. */
export interface SearchHit {
  entryId: string;
  chunkId: string | null;
  title: string;
  content: string;
  snippet: string;
  highlights: string[];
  score: number;
  language: string;
  verified: boolean;
  status: string;
  reviewOverdue: boolean;
}

/** Ranked retrieval over an organisation's entries (lexical, or hybrid when embeddings exist). */
export interface Retriever {
  search(orgId: string, query: string, opts: { limit: number; filters: EntryFilters; signal?: AbortSignal }): Promise<{ hits: SearchHit[]; mode: 'lexical' | 'hybrid' }>;
  /** Whether an entry of the organisation exists (for gap resolution). */
  entryExists(orgId: string, entryId: string): Promise<boolean>;
}

export interface TextTools {
  /** Normalised, stop-word-free terms, exactly as the index sees them. */
  terms(text: string): string[];
  detectLanguage(text: string): 'ar' | 'en' | 'mixed';
}

export interface Citation {
  entry_id: string;
  title: string;
  chunk_id: string | null;
  quote: string;
  score: number;
}

export interface AskResult {
  answer: string;
  citations: Citation[];
  confidence: number;
  language: 'ar' | 'en';
  query_id: string;
  gap_id?: string;
}

/** Below this confidence Tadween says it does not know yet and records a knowledge gap. */
export const ANSWER_THRESHOLD = 0.35;
const NO_ANSWER_SENTINEL = 'NO_ANSWER';

const DONT_KNOW = {
  en: "I don't know yet: nothing in the knowledge base answers this question. It has been recorded as a knowledge gap so someone who knows can fill it.",
  ar: 'لا أعرف بعد: لا يوجد في قاعدة المعرفة ما يجيب عن هذا السؤال. سُجّل كفجوة معرفية ليملأها من يعرف الجواب.',
};

/** Search, questions with citations, history, knowledge gaps and analytics. */
export class QueryService {
  constructor(
    private readonly db: Db,
    private readonly retriever: Retriever,
    private readonly text: TextTools,
    private readonly ai: AiProviders,
    private readonly outbox: Outbox,
  ) {}

  /** Ranked passages for a query; never calls an LLM. */
  async search(actor: Actor, q: string, filters: EntryFilters, limit: number) {
    const started = performance.now();
    const { hits, mode } = await this.retriever.search(actor.orgId, q, { limit, filters });
    return {
      items: hits.map((h) => ({
        entry_id: h.entryId,
        title: h.title,
        snippet: h.snippet,
        highlights: h.highlights,
        score: round(h.score),
        chunk_id: h.chunkId,
        language: h.language,
        verified: h.verified,
        status: h.status,
        review_overdue: h.reviewOverdue,
      })),
      took_ms: round(performance.now() - started),
      mode,
    };
  }

  /**
   * Answers a question from the organisation's entries with citations. `onToken` receives the answer
   * as it is produced (streaming); the result is returned once complete and logged.
   */
  async ask(
    actor: Actor,
    input: { question: string; filters?: EntryFilters; language?: 'ar' | 'en' },
    opts: { onToken?: (text: string) => void; signal?: AbortSignal } = {},
  ): Promise<AskResult> {
    const started = performance.now();
    const detected = this.text.detectLanguage(input.question);
    const language: 'ar' | 'en' = input.language ?? (detected === 'ar' ? 'ar' : 'en');
    const { hits, mode } = await this.retriever.search(actor.orgId, input.question, { limit: 5, filters: input.filters ?? {}, signal: opts.signal });
    const passages: Passage[] = hits.map((h) => ({ entryId: h.entryId, chunkId: h.chunkId, title: h.title, content: h.content, score: h.score }));
    const extract = extractAnswer(input.question, passages, (s) => this.text.terms(s));

    let answer = '';
    let citations: Citation[] = [];
    let confidence = extract.confidence;
    const llm = extract.confidence >= ANSWER_THRESHOLD ? await this.ai.llmFor(actor.orgId) : undefined;
    if (llm) {
      let generated: Awaited<ReturnType<QueryService['generate']>>;
      try {
        generated = await this.generate(actor.orgId, input.question, language, passages, opts);
      } catch (err) {
        // The provider failed: the call answers 502, carrying the extractive answer when there is one.
        if (err instanceof AppError && err.code === 'UPSTREAM_ERROR' && extract.confidence >= ANSWER_THRESHOLD) {
          const fallback = {
            answer: extract.sentences.map((x) => x.text).join(' '),
            citations: extract.cited.map((i) => citationOf(passages[i]!, extract.sentences.filter((x) => x.passage === i).map((x) => x.text).join(' '))),
            confidence: round(extract.confidence),
            language,
          };
          throw new AppError('UPSTREAM_ERROR', { ...err.details, fallback });
        }
        throw err;
      }
      if (generated === undefined) confidence = 0;
      else {
        answer = generated.text;
        citations = generated.cited.map((i) => citationOf(passages[i]!, bestQuote(passages[i]!, extract, i)));
      }
    } else if (extract.confidence >= ANSWER_THRESHOLD) {
      answer = extract.sentences.map((s) => s.text).join(' ');
      citations = extract.cited.map((i) => citationOf(passages[i]!, extract.sentences.filter((s) => s.passage === i).map((s) => s.text).join(' ')));
      emitWords(answer, opts.onToken);
    }

    const answered = answer.length > 0 && confidence >= ANSWER_THRESHOLD;
    let gapId: string | undefined;
    if (!answered) {
      answer = DONT_KNOW[language];
      citations = [];
      emitWords(answer, opts.onToken);
    }
    const queryId = newId();
    const latencyMs = Math.round(performance.now() - started);
    await this.db.transaction(async (tx) => {
      if (!answered) gapId = await this.recordGap(tx as unknown as Db, actor.orgId, input.question, language);
      await tx.insert(queryLog).values({
        id: queryId,
        orgId: actor.orgId,
        userId: actor.userId ?? null,
        apiKeyId: actor.apiKeyId ?? null,
        question: input.question,
        language,
        answer,
        answered,
        confidence,
        citations: citations.map((c) => ({ entry_id: c.entry_id, chunk_id: c.chunk_id, title: c.title, score: c.score })),
        gapId: gapId ?? null,
        mode: llm ? `${mode}+llm` : `${mode}+extractive`,
        latencyMs,
      });
      await this.outbox.publish(tx as unknown as Db, {
        orgId: actor.orgId,
        aggregateType: 'query',
        aggregateId: queryId,
        type: 'query.asked',
        payload: { query_id: queryId, question: input.question, answered, confidence, language, citations: citations.map((c) => c.entry_id), gap_id: gapId ?? null, asked_by: actor.userId ?? null },
      });
    });
    this.outbox.poke();
    return { answer, citations, confidence: round(confidence), language, query_id: queryId, ...(gapId ? { gap_id: gapId } : {}) };
  }

  /** Asks the LLM for an answer grounded in the numbered passages; undefined when it says it cannot. */
  private async generate(
    orgId: string,
    question: string,
    language: 'ar' | 'en',
    passages: Passage[],
    opts: { onToken?: (text: string) => void; signal?: AbortSignal },
  ): Promise<{ text: string; cited: number[] } | undefined> {
    const sources = passages.map((p, i) => `[${i + 1}] ${p.title}\n${p.content}`).join('\n\n');
    const system =
      'You answer questions for a company using only the numbered sources from its knowledge base. ' +
      'State only what the sources support, cite each claim with its source number in brackets like [1], ' +
      `and answer in ${language === 'ar' ? 'Arabic' : 'English'}. If the sources do not answer the question, reply exactly ${NO_ANSWER_SENTINEL}.`;
    const prompt = `Sources:\n${sources}\n\nQuestion: ${question}`;
    let text = '';
    if (opts.onToken) {
      // Hold back the first few characters so a NO_ANSWER reply is never streamed to the client.
      let pending = '';
      for await (const delta of this.ai.stream(orgId, { system, prompt, ...(opts.signal ? { signal: opts.signal } : {}) })) {
        text += delta;
        if (text.trim().length < NO_ANSWER_SENTINEL.length + 1 && NO_ANSWER_SENTINEL.startsWith(text.trim())) {
          pending += delta;
          continue;
        }
        if (pending) {
          opts.onToken(pending);
          pending = '';
        }
        opts.onToken(delta);
      }
    } else {
      text = await this.ai.generate(orgId, { system, prompt, ...(opts.signal ? { signal: opts.signal } : {}) });
    }
    text = text.trim();
    if (!text || text.startsWith(NO_ANSWER_SENTINEL)) return undefined;
    const cited = [...new Set([...text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]) - 1).filter((i) => i >= 0 && i < passages.length))];
    return { text, cited: cited.length > 0 ? cited : passages.length > 0 ? [0] : [] };
  }

  /** Raises the ask count of the closest open gap, or opens a new one; returns its id. */
  private async recordGap(tx: Db, orgId: string, question: string, language: 'ar' | 'en'): Promise<string> {
    const terms = [...new Set(this.text.terms(question))];
    const normalized = gapKey(terms) || question.trim().toLowerCase();
    const open = await tx
      .select({ id: knowledgeGaps.id, terms: knowledgeGaps.terms, normalized: knowledgeGaps.normalized })
      .from(knowledgeGaps)
      .where(and(eq(knowledgeGaps.orgId, orgId), eq(knowledgeGaps.status, 'open')))
      .orderBy(desc(knowledgeGaps.lastAskedAt))
      .limit(2000);
    const match = closestGap(terms, open);
    if (match) {
      await tx
        .update(knowledgeGaps)
        .set({ askCount: sql`${knowledgeGaps.askCount} + 1`, lastAskedAt: new Date() })
        .where(and(eq(knowledgeGaps.id, match.id), eq(knowledgeGaps.orgId, orgId)));
      return match.id;
    }
    const id = newId();
    await tx.insert(knowledgeGaps).values({ id, orgId, question, normalized, terms, language });
    return id;
  }

  /** The caller's own questions, newest first. */
  async history(actor: Actor, page: PageRequest) {
    const where = and(eq(queryLog.orgId, actor.orgId), actor.userId ? eq(queryLog.userId, actor.userId) : sql`false`);
    const [rows, [total]] = await Promise.all([
      this.db.select().from(queryLog).where(where).orderBy(desc(queryLog.createdAt), desc(queryLog.id)).limit(page.limit).offset(page.offset),
      this.db.select({ n: count() }).from(queryLog).where(where),
    ]);
    return pageOf(
      rows.map((r) => ({
        query_id: r.id,
        question: r.question,
        answer: r.answer,
        answered: r.answered,
        confidence: round(r.confidence),
        language: r.language,
        citations: r.citations,
        gap_id: r.gapId,
        latency_ms: r.latencyMs,
        created_at: r.createdAt.toISOString(),
      })),
      total?.n ?? 0,
      page,
    );
  }

  /** Knowledge gaps of the organisation. */
  async gaps(actor: Actor, f: { status?: 'open' | 'resolved'; sort?: 'ask_count' | 'last_asked' }, page: PageRequest) {
    const where = and(eq(knowledgeGaps.orgId, actor.orgId), f.status ? eq(knowledgeGaps.status, f.status) : undefined);
    const order = f.sort === 'ask_count' ? [desc(knowledgeGaps.askCount), desc(knowledgeGaps.lastAskedAt)] : [desc(knowledgeGaps.lastAskedAt), desc(knowledgeGaps.id)];
    const [rows, [total]] = await Promise.all([
      this.db.select().from(knowledgeGaps).where(where).orderBy(...order).limit(page.limit).offset(page.offset),
      this.db.select({ n: count() }).from(knowledgeGaps).where(where),
    ]);
    return pageOf(rows.map(presentGap), total?.n ?? 0, page);
  }

  /** Links the entry that answers a gap and closes it. */
  async resolveGap(actor: Actor, gapId: string, entryId: string) {
    const [gap] = await this.db.select().from(knowledgeGaps).where(and(eq(knowledgeGaps.id, gapId), eq(knowledgeGaps.orgId, actor.orgId)));
    if (!gap) throw new AppError('NOT_FOUND', { resource: 'gap' });
    if (!(await this.retriever.entryExists(actor.orgId, entryId))) throw new AppError('NOT_FOUND', { resource: 'entry' });
    if (gap.status === 'resolved') throw new AppError('GAP_ALREADY_RESOLVED');
    const [row] = await this.db
      .update(knowledgeGaps)
      .set({ status: 'resolved', resolvedEntryId: entryId, resolvedBy: actor.userId ?? null, resolvedAt: new Date() })
      .where(and(eq(knowledgeGaps.id, gapId), eq(knowledgeGaps.orgId, actor.orgId)))
      .returning();
    return presentGap(row!);
  }

  /** Per-day questions, answers, gaps, confidence and latency, plus top questions and cited entries. */
  async analytics(actor: Actor, range: { from: Date; to: Date }) {
    const base = and(eq(queryLog.orgId, actor.orgId), gte(queryLog.createdAt, range.from), lt(queryLog.createdAt, range.to));
    const daily = await queryRows<{ day: string; asked: number; answered: number; gaps: number; avg_confidence: number | null; p50: number | null; p95: number | null }>(
      this.db,
      sql`SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
                 count(*)::int AS asked,
                 count(*) FILTER (WHERE answered)::int AS answered,
                 count(*) FILTER (WHERE NOT answered)::int AS gaps,
                 avg(confidence)::float8 AS avg_confidence,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::float8 AS p50,
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::float8 AS p95
            FROM query_log
           WHERE org_id = ${actor.orgId} AND created_at >= ${range.from.toISOString()} AND created_at < ${range.to.toISOString()}
        GROUP BY 1 ORDER BY 1`,
    );
    const top = await this.db
      .select({ question: queryLog.question, n: count() })
      .from(queryLog)
      .where(base)
      .groupBy(queryLog.question)
      .orderBy(desc(count()), asc(queryLog.question))
      .limit(10);
    const cited = await queryRows<{ entry_id: string; title: string; n: number }>(
      this.db,
      sql`SELECT c->>'entry_id' AS entry_id, max(c->>'title') AS title, count(*)::int AS n
            FROM query_log, jsonb_array_elements(citations) AS c
           WHERE org_id = ${actor.orgId} AND created_at >= ${range.from.toISOString()} AND created_at < ${range.to.toISOString()}
        GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 10`,
    );
    const totals = daily.reduce(
      (acc, d) => ({ asked: acc.asked + d.asked, answered: acc.answered + d.answered, gaps: acc.gaps + d.gaps }),
      { asked: 0, answered: 0, gaps: 0 },
    );
    return {
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      totals,
      days: daily.map((d) => ({
        day: d.day,
        asked: d.asked,
        answered: d.answered,
        gaps: d.gaps,
        avg_confidence: round(d.avg_confidence ?? 0),
        latency_p50_ms: round(d.p50 ?? 0),
        latency_p95_ms: round(d.p95 ?? 0),
      })),
      top_questions: top.map((t) => ({ question: t.question, count: t.n })),
      most_cited_entries: cited.map((c) => ({ entry_id: c.entry_id, title: c.title, count: c.n })),
    };
  }
}

function presentGap(g: typeof knowledgeGaps.$inferSelect) {
  return {
    id: g.id,
    question: g.question,
    language: g.language,
    ask_count: g.askCount,
    status: g.status,
    first_asked_at: g.firstAskedAt.toISOString(),
    last_asked_at: g.lastAskedAt.toISOString(),
    resolved_entry_id: g.resolvedEntryId,
    resolved_by: g.resolvedBy,
    resolved_at: g.resolvedAt?.toISOString() ?? null,
  };
}

function citationOf(p: Passage, quote: string): Citation {
  return { entry_id: p.entryId, title: p.title, chunk_id: p.chunkId, quote, score: round(p.score) };
}

/** The quote for a passage the LLM cited: the extractive sentence from it, else its opening. */
function bestQuote(p: Passage, extract: ReturnType<typeof extractAnswer>, index: number): string {
  const s = extract.sentences.filter((x) => x.passage === index).map((x) => x.text);
  return s.length > 0 ? s.join(' ') : p.content.slice(0, 280);
}

function emitWords(text: string, onToken?: (t: string) => void): void {
  if (!onToken) return;
  for (const piece of text.match(/\S+\s*/gu) ?? []) onToken(piece);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
