import { createHash } from 'node:crypto';
import fs from 'node:fs';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController, type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import YAML from 'yaml';
import type { Config } from './config.ts';
import * as auth from './modules/auth/auth.routes.ts';
import * as capture from './modules/capture/capture.routes.ts';
import * as interviews from './modules/capture/interviews.routes.ts';
import * as discovery from './modules/discovery/discovery.routes.ts';
import * as knowledge from './modules/knowledge/knowledge.routes.ts';
import * as external from './modules/external/external.routes.ts';
import * as orgs from './modules/orgs/orgs.routes.ts';
import * as query from './modules/query/query.routes.ts';
import * as instanceAdmin from './modules/instance-admin/instance.routes.ts';
import * as health from './modules/health/health.routes.ts';
import * as apiKeys from './modules/api-keys/api-keys.routes.ts';
import * as webhooks from './modules/webhooks/webhooks.routes.ts';
import type { Database } from './platform/db/client.ts';
import { childLoggerFactory, installConventions, genReqId } from './platform/http/conventions.ts';
import { installIdempotency } from './platform/http/idempotency.ts';
import { AiProviders } from './platform/ai/providers.ts';
import { Guard } from './platform/auth/guard.ts';
import { KeyStore } from './platform/auth/keystore.ts';
import { TokenService } from './platform/auth/tokens.ts';
import { createSealer, loadEncryptionKey, type Sealer } from './platform/crypto/secrets.ts';
import { Jobs } from './platform/jobs/jobs.ts';
import { Outbox } from './platform/jobs/outbox.ts';
import { createLogger } from './platform/observability/logger.ts';
import { MemoryRateLimitStore, type RateLimitStore } from './platform/ratelimit/rate-limit.ts';
import { installRouteRateLimits } from './platform/ratelimit/route.ts';
import { createMetrics, installMetrics, type Metrics } from './platform/observability/metrics.ts';

export const VERSION: string = (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The Fastify instance type every module registers routes on. */
export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** What modules are given: configuration and the platform mechanisms, nothing more. */
export interface Deps {
  config: Config;
  database: Database;
  jobs: Jobs;
  outbox: Outbox;
  metrics: Metrics;
  log: Logger;
  /** Encrypts secrets at rest. */
  sealer: Sealer;
  /** Access-token signing keys. */
  keys: KeyStore;
  tokens: TokenService;
  /** Authentication and authorisation of routes that declare `config.auth`. */
  guard: Guard;
  /** LLM, embeddings and transcription providers (each optional). */
  ai: AiProviders;
  /** Counters behind every rate limit (in memory on one node). */
  rateLimits: RateLimitStore;
}

export interface BuildOptions {
  logger?: Logger;
  /** Poll interval of the job workers in seconds (tests use the minimum). */
  jobsPollingSeconds?: number;
  /** Seconds between supervision passes that reclaim the jobs of dead workers. */
  jobsSuperviseSeconds?: number;
}

/** Every module of the product, in registration order. */
const MODULES: Array<{ register(app: App, deps: Deps): unknown }> = [health, discovery, auth, orgs, instanceAdmin, knowledge, query, capture, interviews, apiKeys, webhooks, external];

/** Builds the HTTP application over an open database; the caller starts jobs and listens. */
export async function buildApp(config: Config, database: Database, opts: BuildOptions = {}): Promise<{ app: App; deps: Deps }> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const app = Fastify({
    loggerInstance: log,
    genReqId,
    childLoggerFactory,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    bodyLimit: config.bodyLimit,
    trustProxy: true,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500 },
    ajv: {
      customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: true, useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const jobs = new Jobs(database, log.child({ component: 'jobs' }), {
    ...(opts.jobsPollingSeconds ? { pollingIntervalSeconds: opts.jobsPollingSeconds } : {}),
    ...(opts.jobsSuperviseSeconds ? { superviseIntervalSeconds: opts.jobsSuperviseSeconds } : {}),
  });
  const outbox = new Outbox(database.db, jobs, log.child({ component: 'outbox' }));
  const metrics = createMetrics();
  const sealer = createSealer(loadEncryptionKey(config));
  const keys = new KeyStore(database.db, sealer);
  await keys.init();
  const tokens = new TokenService(keys, config.publicUrl);
  const guard = new Guard(database.db, tokens);
  const ai = new AiProviders(config);
  const rateLimits = new MemoryRateLimitStore();
  const deps: Deps = { config, database, jobs, outbox, metrics, log, sealer, keys, tokens, guard, ai, rateLimits };

  installConventions(app);
  installRouteRateLimits(app, rateLimits);
  guard.install(app);
  installIdempotency(app, database.db, sealer);
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tadween API',
        version: VERSION,
        description:
          'Tadween (تدوين) is an Arabic-first, bilingual institutional-memory platform. Errors use the envelope ' +
          '`{"error":{"code","message","details"}}`; messages follow Accept-Language (ar or en).',
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT or kn_ API key' },
        },
      },
    },
  });
  installMetrics(app, metrics, config.metricsBasicAuth);

  for (const m of MODULES) await m.register(app, deps);
  registerOpenApiRoutes(app);
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: true } });
  return { app, deps };
}

/** Serves the generated document as JSON and YAML with a content-hash ETag. */
function registerOpenApiRoutes(app: App): void {
  let cached: { json: string; yaml: string; etag: string } | undefined;
  const doc = () => {
    if (!cached) {
      const spec = app.swagger();
      const json = JSON.stringify(spec);
      cached = { json, yaml: YAML.stringify(spec), etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 32)}"` };
    }
    return cached;
  };
  for (const [path, kind] of [
    ['/.well-known/openapi.json', 'json'],
    ['/.well-known/openapi.yaml', 'yaml'],
  ] as const) {
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      const d = doc();
      reply.header('etag', d.etag).header('cache-control', 'public, max-age=300');
      const inm = request.headers['if-none-match'];
      if (inm && inm.split(',').some((t) => t.trim() === d.etag || t.trim() === `W/${d.etag}`)) return reply.code(304).send();
      reply.type(kind === 'json' ? 'application/json; charset=utf-8' : 'application/yaml; charset=utf-8');
      return kind === 'json' ? d.json : d.yaml;
    });
  }
}
