import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../../src/platform/db/client.ts';
import { runAndKill } from '../child.ts';
import { BACKEND, freshDatabase, settle, startApp, testConfig } from '../harness.ts';

const ROWS = 200;

describe('capture across a restart', () => {
  it('finishes a document job cut off mid-way once, with every row an entry and none twice', { timeout: 120_000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-capture-restart-'));
    const pgdata = path.join(dataDir, 'pgdata');
    const key = randomBytes(32).toString('base64');
    const fresh = await freshDatabase(BACKEND === 'embedded' ? { dataDir: pgdata } : {});
    const url = (fresh.database.pool as unknown as { options?: { connectionString?: string } } | undefined)?.options?.connectionString;
    // Only one process may open an embedded data directory.
    if (BACKEND === 'embedded') await fresh.database.close();

    const [, orgId = ''] = await runAndKill(
      'test/fixtures/capture-child.ts',
      { CHILD_DATA_DIR: dataDir, CHILD_ENCRYPTION_KEY: key, CHILD_ROWS: String(ROWS), CHILD_KILL_AFTER: '50', ...(BACKEND === 'embedded' ? { CHILD_PGDATA: pgdata } : { CHILD_DATABASE_URL: url! }) },
      /RUNNING (\S+)/,
    );

    const database = BACKEND === 'embedded' ? await fresh.reopen() : fresh.database;
    const [{ id: jobId } = { id: '' }] = await queryRows<{ id: string }>(database.db, sql`SELECT id FROM jobs WHERE org_id = ${orgId} AND kind = 'capture.document'`);
    const made = async () =>
      (await queryRows<{ n: number; refs: number }>(database.db, sql`SELECT count(*)::int AS n, count(DISTINCT source_ref)::int AS refs FROM knowledge_entries WHERE org_id = ${orgId}`))[0]!;
    const before = await made();
    // Killed part-way: fifty rows were already entries.
    expect(before).toEqual({ n: 50, refs: 50 });

    const t = await startApp(database, testConfig({ DATA_DIR: dataDir, ENCRYPTION_KEY: key }));
    try {
      const deadline = Date.now() + 90_000;
      let job = await t.deps.jobs.get(orgId, jobId);
      while (job.status !== 'succeeded' && job.status !== 'failed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        job = await t.deps.jobs.get(orgId, jobId);
      }
      expect(job).toMatchObject({ status: 'succeeded' });
      expect(job.attempts).toBeGreaterThanOrEqual(2);
      const ids = (job.result as { entry_ids: string[] }).entry_ids;
      expect(ids).toHaveLength(ROWS);
      expect(new Set(ids).size).toBe(ROWS);
      expect(await made()).toEqual({ n: ROWS, refs: ROWS });
      // Every entry is indexed once too.
      await settle(t, 60_000);
      const [chunks] = await queryRows<{ n: number; entries: number }>(database.db, sql`SELECT count(*)::int AS n, count(DISTINCT entry_id)::int AS entries FROM search_chunks WHERE org_id = ${orgId}`);
      expect(chunks).toEqual({ n: ROWS, entries: ROWS });
    } finally {
      await t.close();
      await database.close();
    }
  });
});
