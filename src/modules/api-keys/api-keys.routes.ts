import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf, type RouteAuth } from '../../platform/auth/guard.ts';
import { AppError } from '../../platform/http/errors.ts';
import { pageRequest } from '../../platform/http/pagination.ts';
import { errorResponses, GUARDED } from '../external/errors.schemas.ts';
import { ApiKeyList, ApiKeyUsage, CreateApiKeyBody, CreatedApiKey, KeyIdParams, ListApiKeysQuery, UsageQuery } from './api-keys.schemas.ts';
import { ApiKeysService } from './api-keys.service.ts';
import { MemoryRateLimitStore, RateLimiter, type RateLimitResult } from '../../platform/ratelimit/rate-limit.ts';

/** Requests per minute allowed to each API key. */
export const API_KEY_RATE_LIMIT = 60;

declare module 'fastify' {
  interface FastifyRequest {
    /** The rate-limit verdict of an API-key request, echoed in X-RateLimit-* headers. */
    apiKeyRateLimit?: RateLimitResult;
  }
}

const MANAGE: RouteAuth = { minRole: 'manager', minPlan: 'growth', feature: 'api_keys' };

function rateLimitHeaders(rl: RateLimitResult): Record<string, string> {
  return {
    'x-ratelimit-limit': String(rl.limit),
    'x-ratelimit-remaining': String(rl.remaining),
    'x-ratelimit-reset': String(rl.resetSeconds),
  };
}

/**
 * API keys: management routes for managers on Growth and above, and the `kn_` bearer authenticator
 * (with the per-key rate limit and usage counting) for routes that declare `methods: ['api_key']`.
 */
export function register(app: App, deps: Deps): void {
  const service = new ApiKeysService(deps.database.db);
  // In memory for one node; a shared store (Redis) implements the same RateLimitStore interface.
  const limiter = new RateLimiter(new MemoryRateLimitStore(), API_KEY_RATE_LIMIT, 60_000);

  app.decorateRequest('apiKeyRateLimit', undefined);
  deps.guard.addAuthenticator(
    'api_key',
    (token) => token.startsWith('kn_'),
    async (token, request) => {
      const actor = await service.authenticate(token);
      if (actor.language) request.preferredLang = actor.language;
      const rl = await limiter.consume(actor.apiKeyId!);
      request.apiKeyRateLimit = rl;
      if (!rl.allowed) {
        throw new AppError('RATE_LIMITED', { retry_after: rl.resetSeconds }, {}, { 'retry-after': String(rl.resetSeconds), ...rateLimitHeaders(rl) });
      }
      await service.recordUse(actor);
      return actor;
    },
  );
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.apiKeyRateLimit) for (const [k, v] of Object.entries(rateLimitHeaders(request.apiKeyRateLimit))) reply.header(k, v);
    return payload;
  });

  app.post(
    '/api/v1/api-keys',
    {
      config: { auth: MANAGE, idempotent: true },
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key (the key is shown once)',
        description: 'Manager or admin, Growth plan or higher. The response holds the full `kn_…` key; only its hash is kept.',
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...errorResponses(...GUARDED, 409, 422) },
      },
    },
    async (request, reply) => {
      const created = await service.create(actorOf(request), request.body);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/api/v1/api-keys',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['api-keys'],
        summary: 'List API keys (metadata only)',
        querystring: ListApiKeysQuery,
        response: { 200: ApiKeyList, ...errorResponses(...GUARDED, 422) },
      },
    },
    async (request) => service.list(actorOf(request), pageRequest(request.query)),
  );

  app.get(
    '/api/v1/api-keys/usage',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['api-keys'],
        summary: 'Requests per key per day over the last 30 days',
        querystring: UsageQuery,
        response: { 200: ApiKeyUsage, ...errorResponses(...GUARDED, 404, 422) },
      },
    },
    async (request) => service.usage(actorOf(request), request.query),
  );

  app.delete(
    '/api/v1/api-keys/:key_id',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key (takes effect at once)',
        params: KeyIdParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...errorResponses(...GUARDED, 404, 422) },
      },
    },
    async (request, reply) => {
      await service.revoke(actorOf(request), request.params.key_id);
      return reply.code(204).send(null);
    },
  );
}
