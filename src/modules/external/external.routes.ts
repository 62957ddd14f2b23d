import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf } from '../../platform/auth/guard.ts';
import { Paginated, pageRequest } from '../../platform/http/pagination.ts';
import { detectLanguage } from '../../platform/text/language.ts';
import { terms } from '../../platform/text/tokens.ts';
import { Entry, ListQuery } from '../knowledge/knowledge.routes.ts';
import { KnowledgeService, type ListFilters } from '../knowledge/knowledge.service.ts';
import { DenseIndex } from '../query/query.dense.ts';
import { LexicalRetriever } from '../query/query.retrieval.ts';
import { AskResult, FilterProps } from '../query/query.schemas.ts';
import { QueryService, type EntryFilters } from '../query/query.service.ts';
import { errorResponses } from './errors.schemas.ts';

const TAGS = ['external'];
const keyAuth = (scope: string) => ({ auth: { methods: ['api_key' as const], minPlan: 'growth' as const, feature: 'api_keys', scopes: [scope] } });

/** The API-key surface for scripts and integrations: the same lists and answers as the product API. */
export function register(app: App, deps: Deps): void {
  const knowledge = new KnowledgeService(deps.database.db, deps.outbox);
  const query = new QueryService(deps.database.db, new LexicalRetriever(deps.database.db, new DenseIndex(deps.database.db, deps.ai, deps.config.embeddings?.model)), { terms, detectLanguage }, deps.ai, deps.outbox);

  app.get(
    '/api/v1/external/knowledge',
    {
      config: keyAuth('knowledge:read'),
      schema: {
        tags: TAGS,
        summary: 'List entries with an API key',
        description: 'The same filters and pagination as GET /api/v1/knowledge/. Needs the knowledge:read scope.',
        querystring: ListQuery,
        response: { 200: Paginated(Entry), ...errorResponses(401, 402, 403, 429) },
      },
    },
    async (request) => knowledge.list(actorOf(request), request.query as ListFilters, pageRequest(request.query)),
  );

  app.get(
    '/api/v1/external/query',
    {
      config: keyAuth('query'),
      schema: {
        tags: TAGS,
        summary: 'Ask a question with an API key',
        description: 'The same answer and citations as POST /api/v1/query/ask. Needs the query scope.',
        querystring: Type.Object({
          q: Type.String({ minLength: 1, maxLength: 2000 }),
          answer_language: Type.Optional(Type.Union([Type.Literal('ar'), Type.Literal('en')], { description: 'Answer language; the question language by default' })),
          ...FilterProps,
        }),
        response: { 200: AskResult, ...errorResponses(401, 402, 403, 429) },
      },
    },
    async (request) => {
      const { q, answer_language: lang, tag_ids, department_id, category_id, verified, language } = request.query;
      const filters: EntryFilters = {
        ...(tag_ids ? { tag_ids } : {}),
        ...(department_id ? { department_id } : {}),
        ...(category_id ? { category_id } : {}),
        ...(verified !== undefined ? { verified } : {}),
        ...(language ? { language } : {}),
      };
      return query.ask(actorOf(request), { question: q, filters, ...(lang ? { language: lang } : {}) });
    },
  );
}
