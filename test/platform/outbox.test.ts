import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxEvents } from '../../src/db/schema/index.ts';
import type { Tx } from '../../src/platform/db/client.ts';
import { newId } from '../../src/platform/db/ids.ts';
import { createTestApp, type TestApp } from '../harness.ts';

let t: TestApp;
const seen: Array<{ aggregate: string; type: string; n: number }> = [];
const failedOnce = new Set<string>();
/** What the batch consumer was handed, one array per job (events of one pass), and whether a pass failed once. */
const batches: Array<Array<{ type: string; n: number }>> = [];
let batchFailed = false;

beforeAll(async () => {
  t = await createTestApp({}, {
    configure(deps) {
      deps.outbox.subscribe('test-recorder', ['thing.changed', 'thing.flaky'], async (event) => {
        const n = (event.payload as { n: number }).n;
        // The second event of a flaky aggregate fails once: its successors must wait for its retry.
        if (event.type === 'thing.flaky' && n === 2 && !failedOnce.has(event.eventId)) {
          failedOnce.add(event.eventId);
          throw new Error('consumer hiccup');
        }
        seen.push({ aggregate: event.aggregateId, type: event.type, n });
      });
      deps.outbox.subscribeBatch('test-batch', ['batch.item', 'batch.poison'], async (events) => {
        // A pass holding the poison event fails once, and is then handed over again whole.
        if (events.some((e) => e.type === 'batch.poison') && !batchFailed) {
          batchFailed = true;
          throw new Error('batch hiccup');
        }
        batches.push(events.map((e) => ({ type: e.type, n: (e.payload as { n: number }).n })));
      });
    },
  });
});
afterAll(async () => {
  await t?.close();
});

const publish = (tx: Tx, aggregateId: string, type: string, n: number) =>
  t.deps.outbox.publish(tx, { orgId: null, aggregateType: 'thing', aggregateId, type, payload: { n } });

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('transactional outbox', () => {
  it('hands a committed event to its consumer', async () => {
    const agg = newId();
    await t.deps.database.db.transaction((tx) => publish(tx as unknown as Tx, agg, 'thing.changed', 1));
    await until(() => seen.some((s) => s.aggregate === agg));
    expect(seen.filter((s) => s.aggregate === agg)).toEqual([{ aggregate: agg, type: 'thing.changed', n: 1 }]);
  });

  it('never hands over an event whose transaction rolled back', async () => {
    const agg = newId();
    let eventId = '';
    await expect(
      t.deps.database.db.transaction(async (tx) => {
        eventId = await publish(tx as unknown as Tx, agg, 'thing.changed', 1);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await t.deps.outbox.dispatchAll();
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen.some((s) => s.aggregate === agg)).toBe(false);
    expect(await t.deps.database.db.select().from(outboxEvents).where(eq(outboxEvents.eventId, eventId))).toHaveLength(0);
  });

  it('keeps the order of one aggregate even when its consumer fails once in the middle', async () => {
    const agg = newId();
    for (let n = 1; n <= 5; n++) {
      await t.deps.database.db.transaction((tx) => publish(tx as unknown as Tx, agg, 'thing.flaky', n));
    }
    await until(() => seen.filter((s) => s.aggregate === agg).length === 5, 30_000);
    expect(seen.filter((s) => s.aggregate === agg).map((s) => s.n)).toEqual([1, 2, 3, 4, 5]);
    expect(failedOnce.size).toBe(1);
  });

  it('delivers the events of many aggregates, each exactly in its order', async () => {
    const aggs = [newId(), newId(), newId()];
    await t.deps.database.db.transaction(async (tx) => {
      for (let n = 1; n <= 3; n++) for (const a of aggs) await publish(tx as unknown as Tx, a, 'thing.changed', n);
    });
    await until(() => aggs.every((a) => seen.filter((s) => s.aggregate === a).length === 3));
    for (const a of aggs) expect(seen.filter((s) => s.aggregate === a).map((s) => s.n)).toEqual([1, 2, 3]);
    const rows = await t.deps.database.db.select().from(outboxEvents).where(eq(outboxEvents.aggregateId, aggs[0]!));
    expect(rows.every((r) => r.dispatchedAt !== null)).toBe(true);
  });

  it('hands a batch consumer the events of a pass together, in commit order and only the types it takes, retrying a failed pass whole', async () => {
    const agg = newId();
    await t.deps.outbox.stop();
    try {
      for (let n = 1; n <= 5; n++) await t.deps.database.db.transaction((tx) => publish(tx as unknown as Tx, agg, n === 3 ? 'thing.other' : 'batch.item', n));
      await t.deps.database.db.transaction((tx) => publish(tx as unknown as Tx, agg, 'batch.poison', 6));
      // One pass: the six committed events, of which five are the batch consumer's.
      expect(await t.deps.outbox.dispatchAll()).toBe(6);
    } finally {
      t.deps.outbox.start();
    }
    await until(() => batches.length === 1, 30_000);
    expect(batchFailed).toBe(true);
    expect(batches[0]).toEqual([
      { type: 'batch.item', n: 1 },
      { type: 'batch.item', n: 2 },
      { type: 'batch.item', n: 4 },
      { type: 'batch.item', n: 5 },
      { type: 'batch.poison', n: 6 },
    ]);
  });
});
