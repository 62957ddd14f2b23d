import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import { VERSION, type App, type Deps } from '../../app.ts';
import { queryRows } from '../../platform/db/client.ts';

const DbState = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  backend: Type.Union([Type.Literal('pglite'), Type.Literal('postgresql')]),
  latency_ms: Type.Number(),
  server_version: Type.Optional(Type.String()),
  migrations_applied: Type.Optional(Type.Integer()),
});

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  version: Type.String(),
  tier: Type.Union([Type.Literal('embedded'), Type.Literal('server')]),
  database: DbState,
  vector_search: Type.Object({ available: Type.Boolean(), reason: Type.Optional(Type.String()) }),
  jobs: Type.Object({ worker: Type.Boolean() }),
});

/** Liveness and readiness of the process and its database. */
export function register(app: App, deps: Deps): void {
  let vector: boolean | undefined;

  const probeDb = async (detail: boolean) => {
    const started = performance.now();
    const backend = deps.database.tier === 'embedded' ? ('pglite' as const) : ('postgresql' as const);
    try {
      const rows = await queryRows<{ v: string; n: number | null }>(
        deps.database.db,
        detail
          ? sql`SELECT current_setting('server_version') AS v, (SELECT count(*)::int FROM drizzle.__drizzle_migrations) AS n`
          : sql`SELECT '' AS v, NULL::int AS n`,
      );
      const row = rows[0];
      return {
        status: 'ok' as const,
        backend,
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
        ...(detail && row ? { server_version: row.v, migrations_applied: row.n ?? 0 } : {}),
      };
    } catch (err) {
      deps.log.warn({ err }, 'database health probe failed');
      return { status: 'unavailable' as const, backend, latency_ms: Math.round(performance.now() - started) };
    }
  };

  app.get(
    '/api/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Service health',
        description: 'Status, version, storage tier, database state and whether vector search is available.',
        response: { 200: Health, 503: Health },
      },
    },
    async (_request, reply) => {
      const database = await probeDb(false);
      if (database.status === 'ok' && vector === undefined) vector = await deps.database.hasVector().catch(() => undefined);
      const ok = database.status === 'ok';
      reply.code(ok ? 200 : 503);
      return {
        status: ok ? ('ok' as const) : ('degraded' as const),
        version: VERSION,
        tier: deps.database.tier,
        database,
        vector_search: vector
          ? { available: true }
          : { available: false, reason: 'The pgvector extension is not installed in this database; search is lexical only.' },
        jobs: { worker: deps.jobs.isWorking },
      };
    },
  );

  app.get(
    '/api/health/db',
    {
      schema: {
        tags: ['operations'],
        summary: 'Database health',
        response: { 200: DbState, 503: DbState },
      },
    },
    async (_request, reply) => {
      const state = await probeDb(true);
      reply.code(state.status === 'ok' ? 200 : 503);
      return state;
    },
  );
}
