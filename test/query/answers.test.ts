import { eq } from 'drizzle-orm';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { knowledgeEntries } from '../../src/db/schema/index.ts';
import { startOpenAiDouble } from '../doubles/openai.ts';
import { addUser, createEntry, createOrg, type TestUser } from '../factories.ts';
import { createTestApp, settle, type TestApp, useTestApp } from '../harness.ts';

const t = useTestApp();

const K = '/api/v1/knowledge';
const Q = '/api/v1/query';

const ask = (app: TestApp, u: TestUser, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
  app.app.inject({ method: 'POST', url: `${Q}/ask`, headers: { ...u.headers, ...headers }, payload });

/** POSTs a question to a listening server and reads the reply with a standard SSE parser, event by event. */
async function streamAsk(base: string, u: TestUser, payload: Record<string, unknown>): Promise<{ status: number; type: string; events: EventSourceMessage[] }> {
  const res = await fetch(`${base}${Q}/ask`, {
    method: 'POST',
    headers: { ...u.headers, accept: 'text/event-stream', 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  return { status: res.status, type: res.headers.get('content-type') ?? '', events };
}

describe('search results', () => {
  it('rank a verified entry slightly above its unverified twin, and mark entries that need review or are past their review date', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const text = 'Bleed the hydraulic press before changing its seals, then check the accumulator pressure.';
    const plain = await createEntry(t, u, 'Hydraulic press seals', text);
    const checked = await createEntry(t, u, 'Hydraulic press seals', text);
    expect((await t.app.inject({ method: 'POST', url: `${K}/${checked.id}/verify`, headers: u.headers, payload: {} })).statusCode).toBe(200);
    await settle(t);
    const search = async () => (await t.app.inject({ method: 'GET', url: `${Q}/search?q=${encodeURIComponent('how to change the press seals')}`, headers: u.headers })).json();
    const first = await search();
    expect(first.items.map((i: { entry_id: string }) => i.entry_id)).toEqual([checked.id, plain.id]);
    expect(first.items[0]).toMatchObject({ verified: true, status: 'active', review_overdue: false });
    expect(first.items[0].score).toBeGreaterThan(first.items[1].score);
    expect(first.items[0].score).toBeLessThan(first.items[1].score * 1.2);

    await t.app.inject({ method: 'POST', url: `${K}/${plain.id}/needs-review`, headers: u.headers, payload: { reason: 'seal part number changed' } });
    // Time passes: the verified entry's review date is behind us.
    await t.database.db.update(knowledgeEntries).set({ reviewDueAt: new Date(Date.now() - 86400_000) }).where(eq(knowledgeEntries.id, checked.id));
    await settle(t);
    const later = await search();
    const byId = new Map(later.items.map((i: { entry_id: string }) => [i.entry_id, i]));
    expect(byId.get(plain.id)).toMatchObject({ status: 'needs_review', review_overdue: false });
    expect(byId.get(checked.id)).toMatchObject({ verified: true, review_overdue: true });
  });

  it('refuse a blank query or question with a message in the caller’s language', async () => {
    const org = await createOrg(t);
    const res = await t.app.inject({ method: 'GET', url: `${Q}/search?q=${encodeURIComponent('   ')}`, headers: { ...org.owner.headers, 'accept-language': 'ar' } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('VALIDATION_ERROR');
    expect(res.json().error.message).toMatch(/[\u0600-\u06FF]/);
    const blank = await ask(t, org.owner, { question: ' \n ' }, { 'accept-language': 'ar' });
    expect(blank.statusCode).toBe(422);
    expect(blank.json().error.details.fields[0].field).toMatch(/question/);
    expect((await ask(t, org.owner, { question: 'x'.repeat(2001) })).statusCode).toBe(422);
    expect((await ask(t, org.owner, { question: 'valves?', language: 'fr' })).statusCode).toBe(422);
  });
});

describe('answers', () => {
  it('are given in the language asked for, and the caller’s history pages', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const e = await createEntry(t, u, 'مواعيد التسليم', 'تسلّم الطلبات إلى المستودع قبل الساعة الثانية ظهراً من كل يوم عمل.');
    await settle(t);
    const ar = (await ask(t, u, { question: 'متى تسلم الطلبات إلى المستودع؟' })).json();
    expect(ar).toMatchObject({ language: 'ar', citations: [{ entry_id: e.id }] });
    expect(ar.answer).toContain('الساعة الثانية');
    // An English question, answered in Arabic on request: here Tadween does not know, and says so in Arabic.
    const gap = (await ask(t, u, { question: 'Who approves overtime?', language: 'ar' })).json();
    expect(gap.language).toBe('ar');
    expect(gap.answer).toMatch(/لا أعرف/);
    const en = (await ask(t, u, { question: 'Who approves overtime?' })).json();
    expect(en.language).toBe('en');
    expect(en.answer).toMatch(/don't know/);

    const page1 = (await t.app.inject({ method: 'GET', url: `${Q}/history?per_page=2`, headers: u.headers })).json();
    expect(page1.items).toHaveLength(2);
    expect(page1.pagination).toMatchObject({ total: 3, total_pages: 2, has_next: true, has_prev: false });
    const page2 = (await t.app.inject({ method: 'GET', url: `${Q}/history?per_page=2&page=2`, headers: u.headers })).json();
    expect(page2.items.map((i: { question: string }) => i.question)).toEqual(['متى تسلم الطلبات إلى المستودع؟']);
    expect(page2.items[0]).toMatchObject({ answered: true, language: 'ar', citations: [{ entry_id: e.id }] });
  });
});

describe('knowledge gaps', () => {
  it('sort by ask count or last asked, filter by status, and resolve only with an entry of the organisation', async () => {
    const org = await createOrg(t);
    const u = org.owner;
    const manager = await addUser(t, org, { role: 'manager' });
    const member = await addUser(t, org);
    for (const q of ['Who signs purchase orders?', 'Who signs the purchase orders', 'Who signs purchase orders?']) await ask(t, u, { question: q });
    await ask(t, member, { question: 'Where is the spare forklift key kept?' });
    const byCount = (await t.app.inject({ method: 'GET', url: `${Q}/gaps?sort=ask_count`, headers: manager.headers })).json();
    expect(byCount.items.map((g: { ask_count: number }) => g.ask_count)).toEqual([3, 1]);
    const [orders, forklift] = byCount.items as Array<{ id: string; question: string }>;
    expect(orders!.question).toBe('Who signs purchase orders?');
    const byLast = (await t.app.inject({ method: 'GET', url: `${Q}/gaps?sort=last_asked`, headers: manager.headers })).json();
    expect(byLast.items.map((g: { id: string }) => g.id)).toEqual([forklift!.id, orders!.id]);

    const answer = await createEntry(t, u, 'Purchase orders', 'Purchase orders above 5,000 are signed by the finance director.');
    const other = await createOrg(t);
    const foreign = await createEntry(t, other.owner, 'Foreign', 'Not theirs to link.');
    const resolve = (gapId: string, entryId: string, headers = manager.headers) => t.app.inject({ method: 'POST', url: `${Q}/gaps/${gapId}/resolve`, headers, payload: { entry_id: entryId } });
    expect((await resolve(orders!.id, foreign.id)).statusCode).toBe(404);
    expect((await resolve('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', answer.id)).statusCode).toBe(404);
    expect((await resolve('not-a-uuid', answer.id)).statusCode).toBe(422);
    expect((await resolve(orders!.id, answer.id, member.headers)).statusCode).toBe(403);
    expect((await resolve(orders!.id, answer.id)).json()).toMatchObject({ status: 'resolved', resolved_entry_id: answer.id, resolved_by: manager.id });

    const open = (await t.app.inject({ method: 'GET', url: `${Q}/gaps?status=open`, headers: manager.headers })).json();
    expect(open.items.map((g: { id: string }) => g.id)).toEqual([forklift!.id]);
    const resolved = (await t.app.inject({ method: 'GET', url: `${Q}/gaps?status=resolved`, headers: manager.headers })).json();
    expect(resolved.items.map((g: { id: string }) => g.id)).toEqual([orders!.id]);
    // Once the entry is indexed, the question that opened the gap is answered from it.
    await settle(t);
    const now = (await ask(t, u, { question: 'Who signs purchase orders?' })).json();
    expect(now.citations[0].entry_id).toBe(answer.id);
    expect(now.gap_id).toBeUndefined();
    expect((await t.app.inject({ method: 'GET', url: `${Q}/gaps?status=closed`, headers: manager.headers })).statusCode).toBe(422);
  });
});

describe('analytics and reindex', () => {
  it('reports per-day figures, latency percentiles, top questions and most cited entries over a range', async () => {
    const org = await createOrg(t, { plan: 'growth' });
    const u = org.owner;
    const e = await createEntry(t, u, 'Night shift handover', 'The night shift hands over to the day shift at six in the morning.');
    await settle(t);
    await ask(t, u, { question: 'When does the night shift hand over?' });
    await ask(t, u, { question: 'When does the night shift hand over?' });
    await ask(t, u, { question: 'What is the parking policy for visitors?' });
    const res = (await t.app.inject({ method: 'GET', url: `${Q}/analytics`, headers: u.headers })).json();
    expect(res.totals).toEqual({ asked: 3, answered: 2, gaps: 1 });
    expect(res.days).toHaveLength(1);
    const [day] = res.days;
    expect(day).toMatchObject({ day: new Date().toISOString().slice(0, 10), asked: 3, answered: 2, gaps: 1 });
    expect(day.avg_confidence).toBeGreaterThan(0);
    expect(day.latency_p95_ms).toBeGreaterThanOrEqual(day.latency_p50_ms);
    expect(res.top_questions[0]).toEqual({ question: 'When does the night shift hand over?', count: 2 });
    expect(res.most_cited_entries).toEqual([{ entry_id: e.id, title: 'Night shift handover', count: 2 }]);

    const past = (await t.app.inject({ method: 'GET', url: `${Q}/analytics?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z`, headers: u.headers })).json();
    expect(past).toMatchObject({ totals: { asked: 0, answered: 0, gaps: 0 }, days: [], top_questions: [], most_cited_entries: [] });
    // Another organisation's questions never count.
    const other = await createOrg(t, { plan: 'growth' });
    expect((await t.app.inject({ method: 'GET', url: `${Q}/analytics`, headers: other.owner.headers })).json().totals.asked).toBe(0);
  });

  it('lets only admins rebuild the index', async () => {
    const org = await createOrg(t);
    const manager = await addUser(t, org, { role: 'manager' });
    const res = await t.app.inject({ method: 'POST', url: `${K}/reindex`, headers: manager.headers });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('INSUFFICIENT_ROLE');
  });
});

describe('answers from an LLM over a real connection', () => {
  it('stream token by token to a standard SSE client, then citations, then done', async () => {
    const reply = 'Six in the morning is when the night shift hands over [1].';
    const double = await startOpenAiDouble({ chat: () => reply, delayMs: 150 });
    const llm = await createTestApp({ LLM_BASE_URL: double.url, LLM_MODEL: 'm' });
    try {
      const base = await llm.app.listen({ port: 0, host: '127.0.0.1' });
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const org = await createOrg(llm);
      const e = await createEntry(llm, org.owner, 'Night shift handover', 'The night shift hands over to the day shift at six in the morning.');
      await settle(llm);
      const { status, type, events } = await streamAsk(base, org.owner, { question: 'When does the night shift hand over?' });
      expect(status).toBe(200);
      expect(type).toMatch(/^text\/event-stream/);
      const tokens = events.filter((ev) => ev.event === 'token');
      expect(tokens.length).toBeGreaterThan(5);
      expect(tokens.map((ev) => (JSON.parse(ev.data) as { text: string }).text).join('')).toBe(reply);
      expect(events.slice(-2).map((ev) => ev.event)).toEqual(['citations', 'done']);
      const cited = JSON.parse(events.at(-2)!.data) as { citations: Array<{ entry_id: string }>; query_id: string; language: string };
      expect(cited).toMatchObject({ language: 'en', citations: [{ entry_id: e.id }] });
      expect(JSON.parse(events.at(-1)!.data)).toEqual({ query_id: cited.query_id });
      // The streamed answer is logged whole.
      const history = (await llm.app.inject({ method: 'GET', url: `${Q}/history`, headers: org.owner.headers })).json();
      expect(history.items[0]).toMatchObject({ query_id: cited.query_id, answer: reply, answered: true });
    } finally {
      await llm.close();
      await double.close();
    }
  });

  it('time out as 502 UPSTREAM_ERROR carrying the extractive answer, and as an error event when streamed', async () => {
    const double = await startOpenAiDouble({ chat: () => 'too late [1]', delayMs: 3000 });
    const llm = await createTestApp({ LLM_BASE_URL: double.url, LLM_MODEL: 'm', LLM_TIMEOUT_MS: '300' });
    try {
      const base = await llm.app.listen({ port: 0, host: '127.0.0.1' });
      const org = await createOrg(llm);
      await createEntry(llm, org.owner, 'Night shift handover', 'The night shift hands over to the day shift at six in the morning.');
      await settle(llm);
      const question = { question: 'When does the night shift hand over?' };
      const res = await ask(llm, org.owner, question, { 'accept-language': 'ar' });
      expect(res.statusCode).toBe(502);
      const err = res.json().error;
      expect(err).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'timeout' } });
      expect(err.message).toMatch(/[\u0600-\u06FF]/);
      expect(err.details.fallback.answer).toContain('six in the morning');

      const { status, events } = await streamAsk(base, org.owner, question);
      expect(status).toBe(200);
      expect(events.map((ev) => ev.event)).toEqual(['error']);
      const streamed = JSON.parse(events[0]!.data) as { error: { code: string; message: string; details: { fallback: { answer: string } } } };
      expect(streamed.error.code).toBe('UPSTREAM_ERROR');
      expect(streamed.error.message).toMatch(/AI provider/);
      expect(streamed.error.details.fallback.answer).toContain('six in the morning');
    } finally {
      await llm.close();
      await double.close();
    }
  });
});
