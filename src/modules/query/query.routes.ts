import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf } from '../../platform/auth/guard.ts';
import { AppError, errorMessage } from '../../platform/http/errors.ts';
import { pageRequest } from '../../platform/http/pagination.ts';
import { openEventStream, wantsEventStream } from '../../platform/http/sse.ts';
import { createRetrieval } from './query.retrieval.ts';
import { AnalyticsQuery, Analytics, AskBody, AskResult, Gap, GapsPage, GapsQuery, HistoryPage, HistoryQuery, ResolveBody, SearchQuery, SearchResult } from './query.schemas.ts';
import { QueryService, type EntryFilters } from './query.service.ts';

const TAGS = ['query'];

/** Search, questions with citations, history, knowledge gaps and analytics under /api/v1/query. */
export function register(app: App, deps: Deps): void {
  const { retriever, text } = createRetrieval(deps);
  const service = new QueryService(deps.database.db, retriever, text, deps.ai, deps.outbox);

  app.get(
    '/api/v1/query/search',
    {
      config: { auth: {} },
      schema: {
        tags: TAGS,
        summary: 'Search entries (no LLM)',
        description: 'Ranked passages; lexical, or hybrid (lexical fused with dense retrieval) when embeddings exist.',
        querystring: SearchQuery,
        response: { 200: SearchResult },
      },
    },
    async (request) => {
      const { q, limit, ...filters } = request.query;
      return service.search(actorOf(request), q, filters as EntryFilters, limit ?? 10);
    },
  );

  app.post(
    '/api/v1/query/ask',
    {
      config: { auth: {} },
      schema: {
        tags: TAGS,
        summary: 'Answer a question with citations',
        description:
          'Answers only from the cited entries, in the question language (or `language`). With `Accept: text/event-stream` the answer ' +
          'streams as Server-Sent Events: `token` events ({text}), then one `citations` event (the full result without the answer text), then `done`; ' +
          'a failure after the stream opened is one `error` event holding the error envelope. ' +
          'Below the confidence threshold the answer says Tadween does not know yet and a knowledge gap is recorded (gap_id).',
        body: AskBody,
        response: { 200: AskResult },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const body = request.body;
      if (!wantsEventStream(request)) return service.ask(actor, body);
      const stream = openEventStream(request, reply);
      try {
        const result = await service.ask(actor, body, { onToken: (t) => stream.send('token', { text: t }), signal: stream.signal });
        const { answer: _answer, ...rest } = result;
        stream.send('citations', rest);
        stream.send('done', { query_id: result.query_id });
      } catch (err) {
        // The status line has gone out already: the error travels as an event carrying the usual envelope
        // (a provider failure's details hold the extractive answer as fallback).
        const known = err instanceof AppError ? err : undefined;
        if (!known) request.log.error({ err }, 'streamed answer failed');
        const code = known?.code ?? 'INTERNAL_ERROR';
        const details = known?.details ?? {};
        stream.send('error', { error: { code, message: errorMessage(code, request.lang, { ...details, ...known?.params }), details } });
      } finally {
        stream.close();
      }
      return reply;
    },
  );

  app.get(
    '/api/v1/query/history',
    {
      config: { auth: {} },
      schema: { tags: TAGS, summary: "The caller's questions", querystring: HistoryQuery, response: { 200: HistoryPage } },
    },
    async (request) => service.history(actorOf(request), pageRequest(request.query)),
  );

  app.get(
    '/api/v1/query/gaps',
    {
      config: { auth: { minRole: 'manager' } },
      schema: { tags: TAGS, summary: 'Knowledge gaps', querystring: GapsQuery, response: { 200: GapsPage } },
    },
    async (request) => {
      const { status, sort } = request.query;
      return service.gaps(actorOf(request), { ...(status ? { status } : {}), ...(sort ? { sort } : {}) }, pageRequest(request.query));
    },
  );

  app.post(
    '/api/v1/query/gaps/:gap_id/resolve',
    {
      config: { auth: { minRole: 'manager' } },
      schema: {
        tags: TAGS,
        summary: 'Resolve a knowledge gap with the entry that answers it',
        params: Type.Object({ gap_id: Type.String({ format: 'uuid' }) }),
        body: ResolveBody,
        response: { 200: Gap },
      },
    },
    async (request) => service.resolveGap(actorOf(request), request.params.gap_id, request.body.entry_id),
  );

  app.post(
    '/api/v1/knowledge/reindex',
    {
      config: { auth: { minRole: 'admin' } },
      schema: {
        tags: ['knowledge'],
        summary: 'Rebuild the search index of the organisation (a job)',
        response: { 202: Type.Object({ job_id: Type.String({ format: 'uuid' }), status: Type.String() }) },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const job = await deps.database.db.transaction((tx) => deps.jobs.enqueue(tx as never, { kind: 'search.reindex', orgId: actor.orgId, payload: { orgId: actor.orgId }, createdBy: actor.userId ?? null }));
      return reply.code(202).send({ job_id: job.id, status: job.status });
    },
  );

  app.get(
    '/api/v1/query/analytics',
    {
      config: { auth: { minRole: 'admin', minPlan: 'growth', feature: 'analytics' } },
      schema: { tags: TAGS, summary: 'Question statistics', querystring: AnalyticsQuery, response: { 200: Analytics } },
    },
    async (request) => {
      const to = request.query.to ? new Date(request.query.to) : new Date();
      const from = request.query.from ? new Date(request.query.from) : new Date(to.getTime() - 30 * 86400_000);
      if (!(from < to)) throw new AppError('INVALID_RANGE');
      return service.analytics(actorOf(request), { from, to });
    },
  );
}
