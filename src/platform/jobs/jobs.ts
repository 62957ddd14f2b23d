import { and, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { PgBoss, fromDrizzle, fromPglite, type Job } from 'pg-boss';
import type { Logger } from 'pino';
import { jobs } from '../../db/schema/index.ts';
import type { Database, Db, Tx } from '../db/client.ts';
import { newId } from '../db/ids.ts';
import { AppError, defineErrors } from '../http/errors.ts';

defineErrors({
  JOB_FINISHED: { status: 409, en: 'This job has already finished ({status}).', ar: 'انتهت هذه المهمة بالفعل ({status}).' },
  JOB_NOT_FAILED: { status: 409, en: 'Only a failed job can be retried; this one is {status}.', ar: 'لا يُعاد إلا تشغيل مهمة فاشلة؛ وهذه المهمة حالتها {status}.' },
});

export type JobRow = typeof jobs.$inferSelect;
export type JobStatus = JobRow['status'];

/** A failure that retrying cannot fix (an unreadable file, a missing record): the job fails at once. */
export class PermanentJobError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** What a handler receives for one attempt of one job. */
export interface JobContext<P> {
  job: JobRow;
  payload: P;
  orgId: string | null;
  attempt: number;
  db: Db;
  /** Aborted when the attempt times out or the process shuts down. */
  signal: AbortSignal;
  /** Records progress (0..100) visible through the API. */
  progress(percent: number): Promise<void>;
}

export interface JobDefinition<P> {
  kind: string;
  handler(ctx: JobContext<P>): Promise<Record<string, unknown> | void>;
  /** Retries after the first attempt for transient errors (default 4). */
  retryLimit?: number;
  /** First retry delay in seconds; doubles each time with jitter (default 2). */
  retryDelaySeconds?: number;
  /** An attempt running longer than this fails with JOB_TIMEOUT and is retried (default 300). */
  timeoutSeconds?: number;
  /** Jobs enqueued with the same order key run one at a time in enqueue order. */
  ordered?: boolean;
  /** Jobs fetched per poll (default 20). */
  batchSize?: number;
  /** A worker that stops sending heartbeats this long is presumed dead and its job retried (default 30, min 10). */
  heartbeatSeconds?: number;
}

export interface EnqueueInput<P> {
  kind: string;
  orgId: string | null;
  payload: P;
  createdBy?: string | null;
  /** Required for ordered kinds: jobs sharing it run in order. */
  orderKey?: string;
  startAfter?: Date;
  id?: string;
}

export interface JobsOptions {
  /** Seconds between polls when idle (default 0.5). */
  pollingIntervalSeconds?: number;
  /** Seconds between supervision passes that expire stuck jobs (default 10). */
  superviseIntervalSeconds?: number;
}

const DEAD_LETTER = 'tadween.dead-letter';

/**
 * Background jobs on pg-boss with a `jobs` row per job that the API can show. Jobs are enqueued in
 * the caller's transaction, so a job exists exactly when the change that asked for it committed.
 */
export class Jobs {
  private readonly defs = new Map<string, JobDefinition<unknown>>();
  private boss?: PgBoss;
  private started = false;
  private working = false;
  private readonly inflight = new Set<AbortController>();
  private readonly afterStartTasks: Array<{ name: string; run: () => Promise<void> }> = [];

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly opts: JobsOptions = {},
  ) {}

  /** Declares a job kind and its handler; must happen before start(). */
  define<P>(def: JobDefinition<P>): void {
    if (this.started) throw new Error(`job kind ${def.kind} defined after start`);
    if (this.defs.has(def.kind)) throw new Error(`job kind ${def.kind} defined twice`);
    this.defs.set(def.kind, def as JobDefinition<unknown>);
  }

  /**
   * Work for every process once the queue is up, API node or worker (such as enqueueing maintenance
   * jobs). A failing task is logged and does not stop the process.
   */
  afterStart(name: string, run: () => Promise<void>): void {
    this.afterStartTasks.push({ name, run });
  }

  /** Whether a kind has been defined. */
  has(kind: string): boolean {
    return this.defs.has(kind);
  }

  /** Starts pg-boss, creates the queues and, when `work` is set, the workers. */
  async start({ work }: { work: boolean }): Promise<void> {
    if (this.started) return;
    const { database } = this;
    const common = {
      superviseIntervalSeconds: this.opts.superviseIntervalSeconds ?? 10,
      monitorIntervalSeconds: 30,
      schedule: false,
    };
    this.boss = database.pglite
      ? new PgBoss({ db: fromPglite(database.pglite), backend: 'pglite', ...common })
      : new PgBoss({ connectionString: poolConnectionString(database), max: 4, application_name: 'tadween-jobs', ...common });
    this.boss.on('error', (err: Error) => this.log.error({ err }, 'job queue error'));
    await this.boss.start();
    await this.boss.createQueue(DEAD_LETTER, { retryLimit: 2 }).catch(ignoreExists);
    for (const def of this.defs.values()) {
      await this.boss
        .createQueue(def.kind, {
          policy: def.ordered ? 'key_strict_fifo' : 'standard',
          retryLimit: def.retryLimit ?? 4,
          retryDelay: def.retryDelaySeconds ?? 2,
          retryBackoff: true,
          retryDelayMax: 3600,
          // pg-boss's own expiry backstops the in-process timeout, e.g. for a hung event loop.
          expireInSeconds: (def.timeoutSeconds ?? 300) + 30,
          heartbeatSeconds: Math.max(10, def.heartbeatSeconds ?? 30),
          deadLetter: DEAD_LETTER,
        })
        .catch(ignoreExists);
    }
    this.started = true;
    if (work) await this.startWorkers();
    for (const task of this.afterStartTasks) {
      await task.run().catch((err: unknown) => this.log.error({ err, task: task.name }, 'start-up task failed'));
    }
  }

  private async startWorkers(): Promise<void> {
    const boss = this.boss!;
    // Only one process can open an embedded database, so a job it finds running was cut off by a
    // restart: put it back in the queue at once instead of waiting for its heartbeat to lapse.
    if (this.database.tier === 'embedded') await this.recoverInterrupted();
    for (const def of this.defs.values()) {
      await boss.work(
        def.kind,
        {
          batchSize: def.batchSize ?? 20,
          burstWhenBatchFull: true,
          pollingIntervalSeconds: this.opts.pollingIntervalSeconds ?? 0.5,
          includeMetadata: true,
          perJobResults: true,
        },
        async (batch) => Promise.all(batch.map((j) => this.runOne(def, j))),
      );
    }
    await boss.work(DEAD_LETTER, { pollingIntervalSeconds: 2, batchSize: 20, includeMetadata: true, perJobResults: true }, async (batch) =>
      Promise.all(
        batch.map(async (j) => {
          const { jobId, epoch } = (j.data ?? {}) as { jobId?: string; epoch?: number };
          if (jobId) {
            await this.database.db
              .update(jobs)
              .set({
                status: 'failed',
                error: { code: 'JOB_ABANDONED', message: 'The job stopped responding and ran out of retries.' },
                finishedAt: new Date(),
                updatedAt: new Date(),
              })
              // A dead letter from before a manual retry (an older epoch) must not fail the retried job.
              .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'running']), epoch !== undefined ? eq(jobs.maxAttempts, epoch) : undefined));
          }
          return { id: j.id, status: 'completed' as const };
        }),
      ),
    );
    this.working = true;
  }

  private async recoverInterrupted(): Promise<void> {
    const stale = await this.database.db.select({ id: jobs.id, kind: jobs.kind }).from(jobs).where(eq(jobs.status, 'running'));
    for (const j of stale) {
      if (!this.defs.has(j.kind)) continue;
      await this.database.db.update(jobs).set({ status: 'queued', updatedAt: new Date() }).where(eq(jobs.id, j.id));
      // Failing the orphaned attempt sends it to retry (or, when none is left, to the dead letters).
      await this.boss!.fail(j.kind, j.id, { message: 'interrupted by a restart' });
      this.log.warn({ job_id: j.id, kind: j.kind }, 'job interrupted by a restart was queued again');
    }
  }

  /** Enqueues a job inside `tx`: the row and the queue entry commit or roll back with the caller's change. */
  async enqueue<P extends object>(tx: Tx, input: EnqueueInput<P>): Promise<JobRow> {
    const def = this.defs.get(input.kind);
    if (!def) throw new Error(`unknown job kind ${input.kind}`);
    if (!this.boss) throw new Error('jobs are not started');
    if (def.ordered && !input.orderKey) throw new Error(`job kind ${input.kind} needs an order key`);
    const id = input.id ?? newId();
    const [row] = await tx
      .insert(jobs)
      .values({
        id,
        orgId: input.orgId,
        kind: input.kind,
        payload: input.payload as Record<string, unknown>,
        createdBy: input.createdBy ?? null,
        maxAttempts: (def.retryLimit ?? 4) + 1,
      })
      .returning();
    await this.boss.send(input.kind, { jobId: id, epoch: row!.maxAttempts }, {
      id,
      ...(input.orderKey ? { singletonKey: input.orderKey } : {}),
      ...(input.startAfter ? { startAfter: input.startAfter } : {}),
      db: fromDrizzle(tx as unknown as Parameters<typeof fromDrizzle>[0], sql),
    });
    return row!;
  }

  /** One job of an organisation, or 404. */
  async get(orgId: string, id: string, kinds?: string[]): Promise<JobRow> {
    const [row] = await this.database.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.id, id), eq(jobs.orgId, orgId), kinds ? inArray(jobs.kind, kinds) : undefined));
    if (!row) throw new AppError('NOT_FOUND');
    return row;
  }

  /** A page of an organisation's jobs, newest first. */
  async list(orgId: string, f: { kinds?: string[]; status?: JobStatus; limit: number; offset: number }): Promise<{ rows: JobRow[]; total: number }> {
    const where = and(eq(jobs.orgId, orgId), f.kinds ? inArray(jobs.kind, f.kinds) : undefined, f.status ? eq(jobs.status, f.status) : undefined);
    const [rows, totals] = await Promise.all([
      this.database.db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(f.limit).offset(f.offset),
      this.database.db.select({ n: count() }).from(jobs).where(where),
    ]);
    return { rows, total: totals[0]?.n ?? 0 };
  }

  /**
   * Runs a failed job again with a fresh set of attempts (409 JOB_NOT_FAILED otherwise). Handlers are
   * idempotent per job, so whatever the failed attempts already made is found, not made twice.
   */
  async retry(orgId: string, id: string, kinds?: string[]): Promise<JobRow> {
    const job = await this.get(orgId, id, kinds);
    const def = this.defs.get(job.kind);
    if (!def || !this.boss) throw new Error(`job kind ${job.kind} is not defined here`);
    return this.database.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const [row] = await tx
        .update(jobs)
        .set({ status: 'queued', progress: 0, finishedAt: null, maxAttempts: sql`${jobs.attempts} + ${(def.retryLimit ?? 4) + 1}`, updatedAt: new Date() })
        .where(and(eq(jobs.id, id), eq(jobs.orgId, orgId), eq(jobs.status, 'failed')))
        .returning();
      if (!row) throw new AppError('JOB_NOT_FAILED', { status: job.status });
      // A new queue entry for the same row: pg-boss keeps the failed one under the job's own id.
      await this.boss!.send(job.kind, { jobId: id, epoch: row.maxAttempts }, { id: newId(), db: fromDrizzle(tx as unknown as Parameters<typeof fromDrizzle>[0], sql) });
      return row;
    });
  }

  /** Cancels a queued or running job; a finished job cannot be cancelled (409). */
  async cancel(orgId: string, id: string): Promise<JobRow> {
    const job = await this.get(orgId, id);
    if (!['queued', 'running'].includes(job.status)) throw new AppError('JOB_FINISHED', { status: job.status });
    const [row] = await this.database.db
      .update(jobs)
      .set({ status: 'cancelled', finishedAt: new Date(), updatedAt: new Date() })
      .where(and(eq(jobs.id, id), inArray(jobs.status, ['queued', 'running'])))
      .returning();
    await this.boss?.cancel(job.kind, id).catch(() => undefined);
    return row ?? (await this.get(orgId, id));
  }

  /** Runs one attempt and tells pg-boss how it ended. */
  private async runOne(def: JobDefinition<unknown>, j: Job<unknown> & { retryCount?: number; retryLimit?: number }) {
    const { jobId } = j.data as { jobId: string };
    const db = this.database.db;
    const [claimed] = await db
      .update(jobs)
      .set({ status: 'running', attempts: sql`${jobs.attempts} + 1`, startedAt: sql`coalesce(${jobs.startedAt}, now())`, updatedAt: new Date() })
      // 'running' too: pg-boss hands a job out again only after the previous holder's claim lapsed
      // (a dead worker), so a row still marked running belongs to that abandoned attempt.
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'running'])))
      .returning();
    if (!claimed) {
      // Cancelled, or already finished by an earlier attempt whose completion pg-boss never heard of.
      return { id: j.id, status: 'completed' as const };
    }
    const ac = new AbortController();
    this.inflight.add(ac);
    const timeoutMs = (def.timeoutSeconds ?? 300) * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort(new Error('timeout'));
        reject(new TransientTimeout(def.timeoutSeconds ?? 300));
      }, timeoutMs);
    });
    const log = this.log.child({ job_id: jobId, kind: def.kind, attempt: claimed.attempts });
    try {
      const result = await Promise.race([
        def.handler({
          job: claimed,
          payload: claimed.payload,
          orgId: claimed.orgId,
          attempt: claimed.attempts,
          db,
          signal: ac.signal,
          progress: async (p) => {
            await db
              .update(jobs)
              .set({ progress: Math.max(0, Math.min(100, Math.round(p))), updatedAt: new Date() })
              .where(and(eq(jobs.id, jobId), eq(jobs.status, 'running')));
          },
        }),
        timedOut,
      ]);
      await db
        .update(jobs)
        .set({ status: 'succeeded', progress: 100, result: result ?? {}, error: null, finishedAt: new Date(), updatedAt: new Date() })
        .where(and(eq(jobs.id, jobId), eq(jobs.status, 'running')));
      return { id: j.id, status: 'completed' as const };
    } catch (err) {
      const permanent = err instanceof PermanentJobError;
      const retriesLeft = (j.retryLimit ?? def.retryLimit ?? 4) - (j.retryCount ?? 0);
      const final = permanent || retriesLeft <= 0;
      const error = permanent
        ? { code: err.code, message: err.message, ...(Object.keys(err.details).length ? { details: err.details } : {}) }
        : err instanceof TransientTimeout
          ? { code: 'JOB_TIMEOUT', message: err.message, transient: true }
          : { code: 'JOB_FAILED', message: err instanceof Error ? err.message : String(err), transient: true };
      if (final) log.warn({ err }, 'job failed');
      else log.info({ err: { message: error.message } }, 'job attempt failed; it will be retried');
      await db
        .update(jobs)
        .set({ status: final ? 'failed' : 'queued', error, updatedAt: new Date(), ...(final ? { finishedAt: new Date() } : {}) })
        .where(and(eq(jobs.id, jobId), eq(jobs.status, 'running')));
      // A permanent failure is settled as completed in pg-boss so it is not retried; the row says failed.
      return permanent ? { id: j.id, status: 'completed' as const } : { id: j.id, status: 'failed' as const, output: error };
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
  }

  /** Waits until no job of the given kinds (default: all) is queued or running; for tests and tools. */
  async drain(timeoutMs = 30_000, kinds?: string[]): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [r] = await this.database.db
        .select({ n: count() })
        .from(jobs)
        .where(and(inArray(jobs.status, ['queued', 'running']), kinds ? inArray(jobs.kind, kinds) : undefined));
      if ((r?.n ?? 0) === 0) return;
      if (Date.now() > deadline) throw new Error(`jobs still pending after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** Stops fetching, waits for running attempts to finish (up to `graceMs`), then stops pg-boss. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.boss) return;
    const boss = this.boss;
    this.boss = undefined;
    await boss.stop({ graceful: true, timeout: graceMs, close: true }).catch((err: unknown) => this.log.warn({ err }, 'job queue stop'));
    for (const ac of this.inflight) ac.abort(new Error('shutdown'));
    this.working = false;
    this.started = false;
  }

  get isWorking(): boolean {
    return this.working;
  }
}

class TransientTimeout extends Error {
  constructor(seconds: number) {
    super(`The job did not finish within ${seconds} seconds.`);
  }
}

function ignoreExists(err: unknown): void {
  if (err instanceof Error && /already exists/i.test(err.message)) return;
  throw err;
}

function poolConnectionString(database: Database): string {
  const opts = (database.pool as unknown as { options: { connectionString?: string } }).options;
  if (!opts.connectionString) throw new Error('server database has no connection string');
  return opts.connectionString;
}
