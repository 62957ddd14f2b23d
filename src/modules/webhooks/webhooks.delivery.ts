import type { Logger } from 'pino';
import { VERSION } from '../../app.ts';
import type { Config } from '../../config.ts';
import type { Sealer } from '../../platform/crypto/secrets.ts';
import type { Db, Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import type { Jobs } from '../../platform/jobs/jobs.ts';
import type { Outbox, OutboxEvent } from '../../platform/jobs/outbox.ts';
import { OutboundError, sendOutbound, type OutboundPolicy } from '../../platform/net/outbound.ts';
import * as repo from './webhooks.repo.ts';
import { sign, WEBHOOK_EVENTS } from './webhooks.signing.ts';

/** The job kind that makes one delivery attempt. */
export const DELIVER_JOB = 'webhooks.deliver';
/** Largest part of a receiver's response that is read. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** Part of the response body kept with the attempt, for debugging. */
const KEPT_RESPONSE_CHARS = 1024;

/** A delay from the retry schedule (seconds) with ±20 % jitter, in milliseconds. */
export function withJitter(seconds: number, random = Math.random): number {
  return Math.round(seconds * 1000 * (0.8 + random() * 0.4));
}

/** Which outbound targets webhook delivery may reach under this configuration. */
export function webhookPolicy(config: Config): OutboundPolicy {
  return { allowPrivate: config.webhooksAllowPrivate, requireHttps: config.nodeEnv === 'production' };
}

interface DeliveryDeps {
  db: Db;
  jobs: Jobs;
  sealer: Sealer;
  config: Config;
  log: Logger;
}

/**
 * Delivery of webhooks: an outbox consumer turns each committed event into one delivery per
 * subscribed endpoint; each attempt is a job. A failed attempt schedules the next one as a new
 * delayed job (so pending retries live in the database and survive restarts) until the retry
 * schedule is exhausted; every attempt of a delivery carries the same webhook-id.
 */
export class WebhookDelivery {
  constructor(private readonly deps: DeliveryDeps) {}

  /** Declares the attempt job and subscribes to the webhook event types. */
  install(outbox: Outbox): void {
    this.deps.jobs.define<{ attemptId: string }>({
      kind: DELIVER_JOB,
      // Retries here cover only failures to record an attempt; receiver failures are retried by schedule.
      retryLimit: 5,
      retryDelaySeconds: 5,
      timeoutSeconds: Math.ceil(this.deps.config.webhookTimeoutMs / 1000) + 30,
      batchSize: 20,
      handler: ({ payload, signal }) => this.attempt(payload.attemptId, signal),
    });
    // Deliveries are idempotent per event and endpoint and carry no order between them, so events are taken a pass at a time.
    outbox.subscribeBatch('webhooks', [...WEBHOOK_EVENTS], async (events) => {
      for (const event of events) await this.fanOut(event);
    });
  }

  /** Creates one delivery per enabled endpoint of the event's organisation subscribed to its type. */
  async fanOut(event: OutboxEvent): Promise<void> {
    if (!event.orgId) return;
    const endpoints = await repo.subscribedEndpoints(this.deps.db, event.orgId, event.type);
    if (endpoints.length === 0) return;
    const body = JSON.stringify({ type: event.type, timestamp: event.createdAt.toISOString(), data: event.payload });
    await this.deps.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      for (const ep of endpoints) {
        const delivery = await repo.insertDelivery(tx, {
          id: newId(),
          orgId: event.orgId!,
          endpointId: ep.id,
          eventId: event.eventId,
          eventType: event.type,
          body,
        });
        // Already there when this event is handed over a second time.
        if (delivery) await this.schedule(tx, delivery, 1, new Date());
      }
    });
  }

  /** Creates a delivery outside the event flow (a test) and queues its first attempt. */
  async createDelivery(tx: Tx, input: { orgId: string; endpointId: string; eventType: string; data: Record<string, unknown>; retryable: boolean }): Promise<repo.DeliveryRow> {
    const body = JSON.stringify({ type: input.eventType, timestamp: new Date().toISOString(), data: input.data });
    const delivery = await repo.insertDelivery(tx, {
      id: newId(),
      orgId: input.orgId,
      endpointId: input.endpointId,
      eventType: input.eventType,
      body,
      retryable: input.retryable,
    });
    await this.schedule(tx, delivery!, 1, new Date());
    return delivery!;
  }

  /** Records attempt `n` of a delivery as queued and enqueues its job to run at `at`. */
  private async schedule(tx: Tx, delivery: repo.DeliveryRow, n: number, at: Date): Promise<repo.AttemptRow> {
    const attempt = await repo.insertAttempt(tx, {
      id: newId(),
      orgId: delivery.orgId,
      deliveryId: delivery.id,
      endpointId: delivery.endpointId,
      attempt: n,
      scheduledFor: at,
    });
    await this.deps.jobs.enqueue(tx, {
      kind: DELIVER_JOB,
      orgId: delivery.orgId,
      payload: { attemptId: attempt.id },
      ...(at.getTime() > Date.now() ? { startAfter: at } : {}),
    });
    return attempt;
  }

  /** Makes one attempt: signs and sends the delivery's body, records the outcome, schedules a retry or gives up. */
  async attempt(attemptId: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { db, config, sealer } = this.deps;
    const loaded = await repo.loadAttempt(db, attemptId);
    if (!loaded) return { skipped: 'the endpoint or delivery no longer exists' };
    const { attempt, delivery, endpoint } = loaded;
    if (attempt.status !== 'queued') return { skipped: `attempt already ${attempt.status}` };
    if (!endpoint.enabled && delivery.retryable) {
      await db.transaction(async (t) => {
        const tx = t as unknown as Tx;
        if (await repo.settleAttempt(tx, attempt.id, { status: 'cancelled', error: { code: 'ENDPOINT_DISABLED', message: 'The endpoint is disabled.' } })) {
          await repo.finishDelivery(tx, delivery.id, 'cancelled');
        }
      });
      return { skipped: 'endpoint disabled' };
    }

    const timestamp = Math.floor(Date.now() / 1000);
    const attemptedAt = new Date();
    let responseCode: number | null = null;
    let responseBody: string | null = null;
    let durationMs = 0;
    let error: repo.AttemptError | null = null;
    let secret: string | undefined;
    try {
      secret = sealer.open(endpoint.secretSealed);
    } catch {
      error = { code: 'SECRET_UNAVAILABLE', message: 'The signing secret could not be decrypted (has ENCRYPTION_KEY changed?).' };
    }
    if (secret !== undefined) {
      try {
        const res = await sendOutbound({
          url: endpoint.url,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': `Tadween-Webhooks/${VERSION}`,
            'webhook-id': delivery.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': sign(secret, delivery.id, timestamp, delivery.body),
          },
          body: delivery.body,
          policy: webhookPolicy(config),
          timeoutMs: config.webhookTimeoutMs,
          maxResponseBytes: MAX_RESPONSE_BYTES,
          ...(signal ? { signal } : {}),
        });
        responseCode = res.status;
        responseBody = res.body.toString('utf8').slice(0, KEPT_RESPONSE_CHARS);
        durationMs = res.durationMs;
        if (res.status < 200 || res.status > 299) {
          error = { code: 'HTTP_STATUS', message: `The receiver answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}.` };
        }
      } catch (err) {
        if (!(err instanceof OutboundError)) throw err;
        // Shutting down: leave the attempt queued; the job runs again after the restart.
        if (err.code === 'ABORTED') throw err;
        durationMs = err.durationMs;
        error = { code: err.code, message: err.message };
      }
    }

    return db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const base = { attemptedAt, durationMs, responseCode, responseBody };
      if (!error) {
        if (!(await repo.settleAttempt(tx, attempt.id, { ...base, status: 'succeeded', error: null }))) return { skipped: 'settled elsewhere' };
        await repo.finishDelivery(tx, delivery.id, 'succeeded');
        if (delivery.retryable) await repo.noteSuccess(tx, endpoint.id);
        return { delivery_id: delivery.id, attempt: attempt.attempt, status: 'succeeded', response_code: responseCode };
      }
      // Settle first: if the endpoint was deleted meanwhile there is nothing left to record.
      if (!(await repo.settleAttempt(tx, attempt.id, { ...base, status: 'failed', error }))) return { skipped: 'settled elsewhere' };
      const state = delivery.retryable ? await repo.noteFailure(tx, endpoint.id, config.webhookDisableAfterFailures) : undefined;
      const schedule = config.webhookRetrySchedule;
      if (state?.enabled && attempt.attempt <= schedule.length) {
        const next = new Date(Date.now() + withJitter(schedule[attempt.attempt - 1]!));
        await this.schedule(tx, delivery, attempt.attempt + 1, next);
        await repo.setNextAttempt(tx, attempt.id, next);
        return { delivery_id: delivery.id, attempt: attempt.attempt, status: 'failed', next_attempt_at: next.toISOString() };
      }
      await repo.finishDelivery(tx, delivery.id, 'failed');
      if (state?.justDisabled) this.deps.log.warn({ endpoint_id: endpoint.id, org_id: endpoint.orgId, failures: state.failures }, 'webhook endpoint disabled after consecutive failures');
      return { delivery_id: delivery.id, attempt: attempt.attempt, status: 'failed', final: true };
    });
  }
}
