import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from '../../db/schema/index.ts';

export type Schema = typeof schema;
/** A Drizzle database or transaction, whichever back end is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle; the same type, named for readability at call sites. */
export type Tx = Db;

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../db/migrations');

/** The open database of one process, with what it needs to be migrated, inspected and closed. */
export interface Database {
  db: Db;
  tier: 'embedded' | 'server';
  /** The PGlite instance when embedded (pg-boss and tests use it directly). */
  pglite?: PGlite;
  /** The pg pool when on a server. */
  pool?: pg.Pool;
  migrate(): Promise<{ applied: number }>;
  /** Whether the `vector` extension is installed in this database. */
  hasVector(): Promise<boolean>;
  close(): Promise<void>;
}

/** PGlite with pgvector persisted in `dataDir` (or in memory for `memory://`). */
export async function openEmbedded(dataDir: string, opts: { loadDataDir?: Blob } = {}): Promise<Database> {
  let pglite: PGlite;
  if (dataDir === 'memory://') {
    pglite = await PGlite.create({ extensions: { vector }, ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}) });
  } else {
    fs.mkdirSync(dataDir, { recursive: true });
    pglite = await PGlite.create({ dataDir, extensions: { vector } });
  }
  const db = drizzlePglite(pglite, { schema, casing: 'snake_case' }) as unknown as Db;
  return {
    db,
    tier: 'embedded',
    pglite,
    async migrate() {
      const before = await appliedCount(db);
      await migratePglite(drizzlePglite(pglite, { schema }), { migrationsFolder: MIGRATIONS_DIR });
      return { applied: (await appliedCount(db)) - before };
    },
    hasVector: () => vectorInstalled(db),
    async close() {
      if (!pglite.closed) await pglite.close();
    },
  };
}

/** A PostgreSQL server reached through a connection pool. */
export function openServer(databaseUrl: string, opts: { max?: number } = {}): Database {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: opts.max ?? 10, application_name: 'tadween' });
  // An idle client that loses its connection emits 'error'; without a listener the process dies.
  pool.on('error', () => undefined);
  const db = drizzlePg(pool, { schema, casing: 'snake_case' }) as unknown as Db;
  let closed = false;
  return {
    db,
    tier: 'server',
    pool,
    async migrate() {
      // Several API nodes may start together: one migrates, the others wait and then find nothing to do.
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(hashtext($1))', ['tadween.migrate']);
        const before = await appliedCount(db);
        await migratePg(drizzlePg(pool, { schema }), { migrationsFolder: MIGRATIONS_DIR });
        return { applied: (await appliedCount(db)) - before };
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['tadween.migrate']).catch(() => undefined);
        client.release();
      }
    },
    hasVector: () => vectorInstalled(db),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<T>(db: Db, q: SQL): Promise<T[]> {
  const r = (await db.execute(q)) as unknown as { rows: T[] };
  return r.rows;
}

async function appliedCount(db: Db): Promise<number> {
  const [exists] = await queryRows<{ t: string | null }>(db, sql`SELECT to_regclass('drizzle.__drizzle_migrations')::text AS t`);
  if (!exists?.t) return 0;
  const [r] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
  return r?.n ?? 0;
}

async function vectorInstalled(db: Db): Promise<boolean> {
  const [r] = await queryRows<{ ok: boolean }>(db, sql`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS ok`);
  return r?.ok === true;
}

/** Opens the database the configuration names. */
export async function openDatabase(cfg: { databaseUrl?: string; dataDir: string }): Promise<Database> {
  return cfg.databaseUrl ? openServer(cfg.databaseUrl) : openEmbedded(path.join(cfg.dataDir, 'pgdata'));
}
