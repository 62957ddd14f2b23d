import { asc, eq, inArray, isNull, lt, and, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { outboxEvents } from '../../db/schema/index.ts';
import { queryRows, type Db, type Tx } from '../db/client.ts';
import { newId } from '../db/ids.ts';
import type { Jobs } from './jobs.ts';

export type OutboxEvent = typeof outboxEvents.$inferSelect;

export interface PublishInput {
  orgId: string | null;
  aggregateType: string;
  aggregateId: string;
  type: string;
  payload: Record<string, unknown>;
}

interface Consumer {
  name: string;
  types: Set<string> | '*';
  handle(event: OutboxEvent, ctx: { signal: AbortSignal }): Promise<void>;
}

/** A consumer that takes the events of a dispatch pass together (see subscribeBatch). */
interface BatchConsumer {
  name: string;
  types: Set<string> | '*';
  handle(events: OutboxEvent[], ctx: { signal: AbortSignal }): Promise<void>;
}

const wants = (c: { types: Set<string> | '*' }, type: string) => c.types === '*' || c.types.has(type);

/**
 * Transactional outbox. `publish` writes an event in the caller's transaction; the dispatcher hands
 * committed events to each subscribed consumer as an ordered job (one order per aggregate), at least
 * once. An event whose transaction rolled back never existed, so it is never handed over.
 */
export class Outbox {
  private readonly consumers = new Map<string, Consumer>();
  private readonly batchConsumers = new Map<string, BatchConsumer>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private lastCleanup = 0;

  constructor(
    private readonly db: Db,
    private readonly jobs: Jobs,
    private readonly log: Logger,
    private readonly intervalMs = 200,
  ) {}

  /** Registers a consumer of event types ('*' for all); it runs as the job kind `outbox.<name>`. */
  subscribe(name: string, types: string[] | '*', handle: Consumer['handle']): void {
    const consumer: Consumer = { name, types: this.typesOf(name, types), handle };
    this.consumers.set(name, consumer);
    this.jobs.define<{ eventId: string }>({
      kind: `outbox.${name}`,
      ordered: true,
      retryLimit: 8,
      retryDelaySeconds: 2,
      handler: async ({ payload, db, signal }) => {
        const [event] = await db.select().from(outboxEvents).where(eq(outboxEvents.eventId, payload.eventId));
        if (!event) return { skipped: 'event no longer exists' };
        await consumer.handle(event, { signal });
        return { event_id: event.eventId, type: event.type };
      },
    });
  }

  /**
   * Registers a consumer that receives the events of each dispatch pass together, in commit order, as one
   * job (`outbox.<name>`, up to 200 events). For consumers that act on the current state of what an event
   * names, or are idempotent per event, rather than on the order of events: a burst of changes (an import,
   * a document of thousands of rows) costs one job and one transaction per pass instead of one per event.
   * Jobs of successive passes may run side by side; a failed one is retried whole.
   */
  subscribeBatch(name: string, types: string[] | '*', handle: BatchConsumer['handle']): void {
    const consumer: BatchConsumer = { name, types: this.typesOf(name, types), handle };
    this.batchConsumers.set(name, consumer);
    this.jobs.define<{ eventIds: string[] }>({
      kind: `outbox.${name}`,
      retryLimit: 8,
      retryDelaySeconds: 2,
      handler: async ({ payload, db, signal }) => {
        const events = await db.select().from(outboxEvents).where(inArray(outboxEvents.eventId, payload.eventIds)).orderBy(asc(outboxEvents.id));
        if (events.length > 0) await consumer.handle(events, { signal });
        return { events: events.length };
      },
    });
  }

  /** The event types a new consumer takes; a name already taken by either kind of consumer is refused. */
  private typesOf(name: string, types: string[] | '*'): Set<string> | '*' {
    if (this.consumers.has(name) || this.batchConsumers.has(name)) throw new Error(`outbox consumer ${name} registered twice`);
    return types === '*' ? '*' : new Set(types);
  }

  /** Writes an event in `tx`; it is dispatched only if `tx` commits. */
  async publish(tx: Tx, input: PublishInput): Promise<string> {
    const eventId = newId();
    await tx.insert(outboxEvents).values({ eventId, ...input });
    return eventId;
  }

  /** Starts the dispatcher loop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Asks for a dispatch pass soon (after a commit that published events). */
  poke(): void {
    if (!this.stopped) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.running) return this.schedule(this.intervalMs);
      this.running = this.dispatchAll()
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'outbox dispatch failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.intervalMs);
        });
    }, ms);
    this.timer.unref?.();
  }

  /** Dispatches until no committed event is left; returns how many events were handed over. */
  async dispatchAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.dispatchBatch(200);
      total += n;
      if (n < 200) break;
    }
    if (Date.now() - this.lastCleanup > 3_600_000) {
      this.lastCleanup = Date.now();
      await this.db.delete(outboxEvents).where(and(lt(outboxEvents.dispatchedAt, sql`now() - interval '7 days'`)));
    }
    return total;
  }

  /** One dispatch transaction: at most `limit` events, in commit order. */
  async dispatchBatch(limit: number): Promise<number> {
    return this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      // One dispatcher at a time across all nodes keeps per-aggregate order intact.
      const [lock] = await queryRows<{ ok: boolean }>(tx, sql`SELECT pg_try_advisory_xact_lock(hashtext('tadween.outbox')) AS ok`);
      if (!lock?.ok) return 0;
      const events = await tx.select().from(outboxEvents).where(isNull(outboxEvents.dispatchedAt)).orderBy(asc(outboxEvents.id)).limit(limit);
      if (events.length === 0) return 0;
      for (const c of this.batchConsumers.values()) {
        const eventIds = events.filter((e) => wants(c, e.type)).map((e) => e.eventId);
        if (eventIds.length > 0) await this.jobs.enqueue(tx, { kind: `outbox.${c.name}`, orgId: null, payload: { eventIds } });
      }
      for (const event of events) {
        for (const c of this.consumers.values()) {
          if (!wants(c, event.type)) continue;
          await this.jobs.enqueue(tx, {
            kind: `outbox.${c.name}`,
            orgId: event.orgId,
            payload: { eventId: event.eventId },
            orderKey: `${event.aggregateType}:${event.aggregateId}`,
          });
        }
      }
      await tx
        .update(outboxEvents)
        .set({ dispatchedAt: new Date() })
        .where(inArray(outboxEvents.id, events.map((e) => e.id)));
      return events.length;
    });
  }

  /** Waits until every committed event has been handed to its consumers (for tests and tools). */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.dispatchAll();
      const [r] = await queryRows<{ n: number }>(this.db, sql`SELECT count(*)::int AS n FROM outbox_events WHERE dispatched_at IS NULL`);
      if ((r?.n ?? 0) === 0) return;
      if (Date.now() > deadline) throw new Error(`outbox still has ${r?.n} undispatched events after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 25));
    }
  }

  /** Stops the loop after the pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
