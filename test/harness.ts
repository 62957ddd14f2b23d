import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Logger } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { buildApp, type App, type Deps } from '../src/app.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { openEmbedded, openServer, type Database } from '../src/platform/db/client.ts';
import { createLogger } from '../src/platform/observability/logger.ts';

export const BACKEND = (process.env.TEST_BACKEND ?? 'embedded') as 'embedded' | 'postgres';

/** A fresh database cloned from the migrated template: an in-memory PGlite or a new PostgreSQL database. */
export async function freshDatabase(opts: { dataDir?: string } = {}): Promise<{ database: Database; reopen(): Promise<Database> }> {
  if (BACKEND === 'embedded') {
    const blob = new Blob([fs.readFileSync(inject('pgliteTemplate'))]);
    if (!opts.dataDir) return { database: await openEmbedded('memory://', { loadDataDir: blob }), reopen: () => Promise.reject(new Error('in-memory database cannot be reopened')) };
    // A persistent copy, for tests that restart the process over the same data.
    const seed = await PGlite.create({ dataDir: opts.dataDir, loadDataDir: blob });
    await seed.close();
    const reopen = () => openEmbedded(opts.dataDir!);
    return { database: await reopen(), reopen };
  }
  const url = process.env.TEST_DATABASE_URL!;
  const name = `${inject('pgTemplate')}_f_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  const reopen = async () => openServer(u.toString(), { max: 5 });
  return { database: await reopen(), reopen };
}

/** Configuration for tests: quiet, a fixed encryption key, private webhook targets allowed. */
export function testConfig(env: Record<string, string> = {}): Config {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-data-'));
  return loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    WEBHOOKS_ALLOW_PRIVATE: 'true',
    PUBLIC_URL: 'http://localhost:5001',
    ...env,
  });
}

export interface TestApp {
  app: App;
  deps: Deps;
  database: Database;
  close(): Promise<void>;
}

/** Builds the app over `database` with jobs and the outbox running, as `npm start` does. */
export async function startApp(
  database: Database,
  config: Config = testConfig(),
  opts: { work?: boolean; logger?: Logger; configure?(deps: Deps, app: App): void } = {},
): Promise<TestApp> {
  const { app, deps } = await buildApp(config, database, { logger: opts.logger ?? createLogger(config.logLevel), jobsPollingSeconds: 0.5, jobsSuperviseSeconds: 2 });
  opts.configure?.(deps, app);
  await app.ready();
  await deps.jobs.start({ work: opts.work ?? true });
  deps.outbox.start();
  let closed = false;
  return {
    app,
    deps,
    database,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await deps.outbox.stop();
      await deps.jobs.stop(2000);
    },
  };
}

/** A test app on a fresh database; closing it closes the database too. */
export async function createTestApp(env: Record<string, string> = {}, opts: { configure?(deps: Deps, app: App): void } = {}): Promise<TestApp> {
  const { database } = await freshDatabase();
  const t = await startApp(database, testConfig(env), opts);
  return {
    ...t,
    async close() {
      await t.close();
      await database.close();
    },
  };
}

/**
 * The test app of a whole test file: built on a fresh database before the file's first test and closed
 * after its last. Its fields are filled in by the time the tests run.
 */
export function useTestApp(env: Record<string, string> = {}, opts: { configure?(deps: Deps, app: App): void } = {}): TestApp {
  const t = {} as TestApp;
  beforeAll(async () => {
    Object.assign(t, await createTestApp(env, opts));
  });
  afterAll(async () => {
    await t.close?.();
  });
  return t;
}

/** Waits until committed events are dispatched and every job they caused has finished. */
export async function settle(t: { deps: Deps }, timeoutMs = 30_000): Promise<void> {
  await t.deps.outbox.settled(timeoutMs);
  await t.deps.jobs.drain(timeoutMs);
}
