import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { organizations, users } from '../src/db/schema/index.ts';
import { openEmbedded, openServer } from '../src/platform/db/client.ts';
import { newId } from '../src/platform/db/ids.ts';
import { createLogger } from '../src/platform/observability/logger.ts';

/** A numeric `--name N` command-line argument, or the default. */
export function benchArg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

/**
 * A new database on the PostgreSQL server DATABASE_URL names, so that every benchmark starts empty (and
 * with its own secrets) as an embedded one does; dropped again by `drop`.
 */
async function serverDatabase(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tadween_bench_${randomBytes(6).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * A migrated database (embedded in a temporary directory, or a new database on the DATABASE_URL server)
 * with the app built over it, and a function that creates an enterprise organisation with an owner and
 * returns its bearer headers.
 */
export async function openBench(env: Record<string, string> = {}, opts: { jobs?: boolean } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-bench-'));
  const server = process.env.DATABASE_URL ? await serverDatabase(process.env.DATABASE_URL) : undefined;
  const database = server ? openServer(server.url) : await openEmbedded(path.join(dataDir, 'pgdata'));
  await database.migrate();
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENCRYPTION_KEY: randomBytes(32).toString('base64'), ...env });
  const { app, deps } = await buildApp(config, database, { logger: createLogger('silent'), jobsPollingSeconds: 0.5 });
  await app.ready();
  if (opts.jobs) {
    await deps.jobs.start({ work: true });
    deps.outbox.start();
  }
  const tier = database.tier === 'embedded' ? 'embedded (PGlite)' : 'PostgreSQL';

  const createOrg = async (name: string) => {
    const orgId = newId();
    const userId = newId();
    await database.db.insert(organizations).values({ id: orgId, name, plan: 'enterprise' });
    await database.db.insert(users).values({ id: userId, orgId, email: `${name}-${orgId}@example.test`, fullName: name, role: 'admin', isOrgOwner: true });
    const { token } = await deps.tokens.signAccess({ sub: userId, role: 'admin', email: `${name}@example.test`, org_id: orgId, org_plan: 'enterprise', is_org_owner: true });
    return { orgId, userId, headers: { authorization: `Bearer ${token}` } };
  };

  const close = async () => {
    await app.close();
    await deps.outbox.stop();
    await deps.jobs.stop();
    await database.close();
    await server?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { app, deps, database, db: database.db, tier, createOrg, close };
}
