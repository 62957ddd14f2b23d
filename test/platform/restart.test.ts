import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../../src/platform/db/client.ts';
import { runAndKill } from '../child.ts';
import { BACKEND, freshDatabase, startApp, testConfig } from '../harness.ts';

describe('restart', () => {
  it('completes a job exactly once after the process running it was killed', { timeout: 90_000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-restart-'));
    const pgdata = path.join(dataDir, 'pgdata');
    const key = randomBytes(32).toString('base64');
    const fresh = await freshDatabase(BACKEND === 'embedded' ? { dataDir: pgdata } : {});
    await fresh.database.db.execute(sql`CREATE TABLE test_effects (job_id uuid PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
    const url = (fresh.database.pool as unknown as { options?: { connectionString?: string } } | undefined)?.options?.connectionString;
    // Only one process may open an embedded data directory.
    if (BACKEND === 'embedded') await fresh.database.close();

    const [, jobId = ""] = await runAndKill(
      'test/fixtures/job-child.ts',
      {
        CHILD_DATA_DIR: dataDir,
        CHILD_ENCRYPTION_KEY: key,
        ...(BACKEND === 'embedded' ? { CHILD_PGDATA: pgdata } : { CHILD_DATABASE_URL: url! }),
      },
      /RUNNING (\S+)/,
    );

    const database = BACKEND === 'embedded' ? await fresh.reopen() : fresh.database;
    let runs = 0;
    const t = await startApp(database, testConfig({ DATA_DIR: dataDir, ENCRYPTION_KEY: key }), {
      configure(deps) {
        deps.jobs.define({
          kind: 'test.interrupted',
          retryLimit: 3,
          retryDelaySeconds: 1,
          heartbeatSeconds: 10,
          handler: async ({ job, db }) => {
            runs += 1;
            await db.execute(sql`INSERT INTO test_effects (job_id) VALUES (${job.id}) ON CONFLICT DO NOTHING`);
            return { finished: true };
          },
        });
      },
    });
    try {
      const deadline = Date.now() + 60_000;
      let row = await t.deps.database.db.query.jobs.findFirst({ where: (j, { eq }) => eq(j.id, jobId) });
      while (row?.status !== 'succeeded' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        row = await t.deps.database.db.query.jobs.findFirst({ where: (j, { eq }) => eq(j.id, jobId) });
      }
      expect(row?.status).toBe('succeeded');
      expect(row?.result).toEqual({ finished: true });
      expect(row?.attempts).toBeGreaterThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 1500));
      expect(runs).toBe(1);
      const effects = await queryRows<{ n: number }>(t.deps.database.db, sql`SELECT count(*)::int AS n FROM test_effects`);
      expect(effects[0]?.n).toBe(1);
    } finally {
      await t.close();
      await database.close();
    }
  });
});
