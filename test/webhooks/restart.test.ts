import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { webhookAttempts } from '../../src/db/schema/index.ts';
import type { Database, Tx } from '../../src/platform/db/client.ts';
import { newId } from '../../src/platform/db/ids.ts';
import { createOrg } from '../factories.ts';
import { freshDatabase, startApp, testConfig, type TestApp } from '../harness.ts';
import { eventually, startReceiver, type Receiver } from './receiver.ts';

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe('webhook retries across a restart', () => {
  it('makes the pending retry after the server restarts over the same database', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-restart-'));
    cleanup.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const { database, reopen } = await freshDatabase({ dataDir });
    // The same configuration (and ENCRYPTION_KEY, which unseals the signing secret) for both runs.
    const config = testConfig({ WEBHOOK_RETRY_SCHEDULE: '3', WEBHOOK_TIMEOUT_MS: '2000' });
    const receiver: Receiver = await startReceiver((n) => (n === 1 ? 500 : 200));
    cleanup.push(() => receiver.close());

    let db: Database = database;
    let t: TestApp = await startApp(db, config);
    cleanup.push(async () => {
      await t.close();
      await db.close();
    });
    const org = await createOrg(t);
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: org.owner.headers, payload: { url: receiver.url, events: ['knowledge.updated'] } });
    expect(created.statusCode).toBe(201);
    const wh = created.json() as { id: string; secret: string };
    await t.deps.database.db.transaction(async (tx) => {
      await t.deps.outbox.publish(tx as unknown as Tx, { orgId: org.id, aggregateType: 'knowledge_entry', aggregateId: newId(), type: 'knowledge.updated', payload: { id: 'k1' } });
    });
    t.deps.outbox.poke();

    // The first attempt fails and the retry is scheduled about 3 s later; stop the server at once.
    const first = await eventually(async () => {
      const rows = await t.deps.database.db.select().from(webhookAttempts).where(eq(webhookAttempts.endpointId, wh.id));
      return rows.find((r) => r.attempt === 1 && r.status === 'failed') && rows.find((r) => r.attempt === 2) ? rows : undefined;
    });
    expect(first).toHaveLength(2);
    await t.close();
    await db.close();
    const stoppedAt = Date.now();
    expect(receiver.received).toHaveLength(1);

    db = await reopen();
    t = await startApp(db, config);
    const got = await receiver.waitFor(2, 20_000);
    expect(got[1]!.at).toBeGreaterThan(stoppedAt);
    expect(got[1]!.headers['webhook-id']).toBe(got[0]!.headers['webhook-id']);
    expect(receiver.verify(got[1]!, wh.secret)).toMatchObject({ type: 'knowledge.updated', data: { id: 'k1' } });

    const attempts = await eventually(async () => {
      const rows = await t.deps.database.db.select().from(webhookAttempts).where(eq(webhookAttempts.endpointId, wh.id)).orderBy(webhookAttempts.attempt);
      return rows[1]?.status === 'succeeded' ? rows : undefined;
    });
    expect(attempts.map((a) => [a.attempt, a.status, a.responseCode])).toEqual([
      [1, 'failed', 500],
      [2, 'succeeded', 200],
    ]);
  });
});
