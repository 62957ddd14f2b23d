import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs as jobsTable } from '../../src/db/schema/index.ts';
import { newId } from '../../src/platform/db/ids.ts';
import { PermanentJobError, type JobRow } from '../../src/platform/jobs/jobs.ts';
import { createTestApp, type TestApp } from '../harness.ts';

let t: TestApp;
const calls = new Map<string, number>();
const bump = (id: string) => {
  const n = (calls.get(id) ?? 0) + 1;
  calls.set(id, n);
  return n;
};
let hold: Promise<void> = Promise.resolve();

beforeAll(async () => {
  t = await createTestApp({}, {
    configure(deps) {
      deps.jobs.define<{ failTimes: number }>({
        kind: 'test.flaky',
        retryLimit: 4,
        retryDelaySeconds: 1,
        handler: async ({ job, payload, attempt }) => {
          bump(job.id);
          if (attempt <= payload.failTimes) throw new Error(`transient failure ${attempt}`);
          return { done_on_attempt: attempt };
        },
      });
      deps.jobs.define({
        kind: 'test.permanent',
        retryLimit: 4,
        handler: async ({ job }) => {
          bump(job.id);
          throw new PermanentJobError('FILE_UNREADABLE', 'The file cannot be read.');
        },
      });
      deps.jobs.define({
        kind: 'test.slow',
        retryLimit: 1,
        retryDelaySeconds: 1,
        timeoutSeconds: 1,
        handler: async ({ job, attempt, signal }) => {
          bump(job.id);
          if (attempt === 1) await new Promise((resolve) => signal.addEventListener('abort', resolve));
          return { attempt };
        },
      });
      deps.jobs.define({
        kind: 'test.progress',
        handler: async ({ progress }) => {
          await progress(40);
          await hold;
          return {};
        },
      });
    },
  });
});
afterAll(async () => {
  await t?.close();
});

const enqueue = (kind: string, orgId: string | null, payload: object = {}) =>
  t.deps.database.db.transaction((tx) => t.deps.jobs.enqueue(tx as never, { kind, orgId, payload }));

async function settled(orgId: string, id: string, timeoutMs = 20_000): Promise<JobRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await t.deps.jobs.get(orgId, id);
    if (['succeeded', 'failed', 'cancelled'].includes(row.status)) return row;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${row.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('jobs', () => {
  it('retries transient failures: fails twice, then succeeds', async () => {
    const org = newId();
    const job = await enqueue('test.flaky', org, { failTimes: 2 });
    expect(job.status).toBe('queued');
    const done = await settled(org, job.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(3);
    expect(done.result).toEqual({ done_on_attempt: 3 });
    expect(done.error).toBeNull();
    expect(done.progress).toBe(100);
    expect(calls.get(job.id)).toBe(3);
  });

  it('does not retry a permanent failure', async () => {
    const org = newId();
    const job = await enqueue('test.permanent', org);
    const done = await settled(org, job.id);
    expect(done.status).toBe('failed');
    expect(done.attempts).toBe(1);
    expect(done.error).toMatchObject({ code: 'FILE_UNREADABLE', message: 'The file cannot be read.' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls.get(job.id)).toBe(1);
  });

  it('times out a stuck attempt and retries it', async () => {
    const org = newId();
    const job = await enqueue('test.slow', org);
    const done = await settled(org, job.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(calls.get(job.id)).toBe(2);
  });

  it('shows progress while running, and jobs are scoped to their organisation', async () => {
    const org = newId();
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    const job = await enqueue('test.progress', org);
    const deadline = Date.now() + 10_000;
    let row = await t.deps.jobs.get(org, job.id);
    while (row.progress !== 40 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      row = await t.deps.jobs.get(org, job.id);
    }
    expect(row).toMatchObject({ status: 'running', progress: 40, attempts: 1 });
    await expect(t.deps.jobs.get(newId(), job.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const listed = await t.deps.jobs.list(org, { limit: 10, offset: 0 });
    expect(listed.rows.map((r) => r.id)).toEqual([job.id]);
    expect((await t.deps.jobs.list(newId(), { limit: 10, offset: 0 })).total).toBe(0);
    release();
    expect((await settled(org, job.id)).status).toBe('succeeded');
  });

  it('never runs a job whose transaction rolled back', async () => {
    const org = newId();
    let id = '';
    await expect(
      t.deps.database.db.transaction(async (tx) => {
        id = (await t.deps.jobs.enqueue(tx as never, { kind: 'test.flaky', orgId: org, payload: { failTimes: 0 } })).id;
        throw new Error('abort the change');
      }),
    ).rejects.toThrow('abort the change');
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls.get(id)).toBeUndefined();
    const rows = await t.deps.database.db.select().from(jobsTable).where(sql`${jobsTable.id} = ${id}`);
    expect(rows).toHaveLength(0);
  });

  it('cancels a queued job, and a finished job cannot be cancelled', async () => {
    const org = newId();
    const job = await t.deps.database.db.transaction((tx) =>
      t.deps.jobs.enqueue(tx as never, { kind: 'test.flaky', orgId: org, payload: { failTimes: 0 }, startAfter: new Date(Date.now() + 60_000) }),
    );
    const cancelled = await t.deps.jobs.cancel(org, job.id);
    expect(cancelled.status).toBe('cancelled');
    await expect(t.deps.jobs.cancel(org, job.id)).rejects.toMatchObject({ code: 'JOB_FINISHED' });
    await expect(t.deps.jobs.cancel(newId(), job.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
