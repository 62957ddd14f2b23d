import type { Actor } from '../../platform/auth/guard.ts';
import type { Sealer } from '../../platform/crypto/secrets.ts';
import type { Db, Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { pageOf, type PageRequest } from '../../platform/http/pagination.ts';
import { assertOutboundUrl, type OutboundPolicy } from '../../platform/net/outbound.ts';
import type { WebhookDelivery } from './webhooks.delivery.ts';
import * as repo from './webhooks.repo.ts';
import type { CreateWebhookBody, DeliveryAttempt, UpdateWebhookBody, Webhook } from './webhooks.schemas.ts';
import { generateSecret, TEST_EVENT } from './webhooks.signing.ts';

defineErrors({
  WEBHOOK_LIMIT_REACHED: {
    status: 409,
    en: 'This organisation already has {limit} webhook endpoints; delete one first.',
    ar: 'لدى هذه المؤسسة {limit} نقطة استقبال بالفعل؛ احذف إحداها أولًا.',
  },
});

/** The most webhook endpoints an organisation may have. */
export const MAX_ENDPOINTS = 50;

/** The public form of an endpoint (never its secret). */
export function presentEndpoint(row: repo.EndpointRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    status: row.enabled ? 'enabled' : 'disabled',
    consecutive_failures: row.consecutiveFailures,
    disabled_at: row.disabledAt?.toISOString() ?? null,
    disabled_reason: row.disabledReason,
    last_success_at: row.lastSuccessAt?.toISOString() ?? null,
    last_failure_at: row.lastFailureAt?.toISOString() ?? null,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function presentAttempt(r: { attempt: repo.AttemptRow; event: string }): DeliveryAttempt {
  const a = r.attempt;
  return {
    id: a.id,
    delivery_id: a.deliveryId,
    event: r.event,
    attempt: a.attempt,
    status: a.status,
    response_code: a.responseCode,
    duration_ms: a.durationMs,
    error: a.error ?? null,
    scheduled_for: a.scheduledFor.toISOString(),
    attempted_at: a.attemptedAt?.toISOString() ?? null,
    next_attempt_at: a.nextAttemptAt?.toISOString() ?? null,
  };
}

/** Webhook endpoints of an organisation: registration, listing, changes, delivery history, tests. */
export class WebhooksService {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly delivery: WebhookDelivery,
    private readonly policy: OutboundPolicy,
  ) {}

  /** Registers an endpoint; its signing secret is in this result only. */
  async create(actor: Actor, input: CreateWebhookBody): Promise<Webhook & { secret: string }> {
    const url = await assertOutboundUrl(input.url.trim(), this.policy);
    if ((await repo.countEndpoints(this.db, actor.orgId)) >= MAX_ENDPOINTS) throw new AppError('WEBHOOK_LIMIT_REACHED', { limit: MAX_ENDPOINTS });
    const secret = generateSecret();
    const row = await repo.insertEndpoint(this.db, {
      id: newId(),
      orgId: actor.orgId,
      url: url.toString(),
      description: input.description?.trim() || null,
      events: [...new Set(input.events)],
      secretSealed: this.sealer.seal(secret),
      createdBy: actor.userId ?? null,
    });
    return { ...presentEndpoint(row), secret };
  }

  /** A page of the organisation's endpoints with their state. */
  async list(actor: Actor, page: PageRequest) {
    const { rows, total } = await repo.listEndpoints(this.db, actor.orgId, page);
    return pageOf(rows.map(presentEndpoint), total, page);
  }

  /** Changes an endpoint; re-enabling clears its failure count, disabling cancels its queued retries. */
  async update(actor: Actor, id: string, input: UpdateWebhookBody): Promise<Webhook> {
    const current = await repo.getEndpoint(this.db, actor.orgId, id);
    if (!current) throw new AppError('NOT_FOUND');
    const set: Parameters<typeof repo.updateEndpoint>[3] = {};
    if (input.url !== undefined) set.url = (await assertOutboundUrl(input.url.trim(), this.policy)).toString();
    if (input.events !== undefined) set.events = [...new Set(input.events)];
    if (input.description !== undefined) set.description = input.description?.trim() || null;
    return this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      if (input.enabled === true && !current.enabled) Object.assign(set, { enabled: true, consecutiveFailures: 0, disabledAt: null, disabledReason: null });
      if (input.enabled === false && current.enabled) await repo.disableEndpoint(tx, id, 'disabled by a user');
      const row = await repo.updateEndpoint(tx, actor.orgId, id, set);
      if (!row) throw new AppError('NOT_FOUND');
      return presentEndpoint(row);
    });
  }

  /** Deletes an endpoint with its history; pending attempts are dropped. */
  async remove(actor: Actor, id: string): Promise<void> {
    if (!(await repo.deleteEndpoint(this.db, actor.orgId, id))) throw new AppError('NOT_FOUND');
  }

  /** A page of an endpoint's delivery attempts, newest first. */
  async deliveries(actor: Actor, id: string, f: { status?: DeliveryAttempt['status']; delivery_id?: string }, page: PageRequest) {
    if (!(await repo.getEndpoint(this.db, actor.orgId, id))) throw new AppError('NOT_FOUND');
    const { rows, total } = await repo.listAttempts(this.db, actor.orgId, id, {
      ...(f.status ? { status: f.status } : {}),
      ...(f.delivery_id ? { deliveryId: f.delivery_id } : {}),
      limit: page.limit,
      offset: page.offset,
    });
    return pageOf(rows.map(presentAttempt), total, page);
  }

  /**
   * Queues a synthetic `webhook.test` delivery. It is tried once, also on a disabled endpoint, and
   * does not count towards disabling the endpoint.
   */
  async test(actor: Actor, id: string): Promise<{ delivery_id: string; status: 'queued' }> {
    const endpoint = await repo.getEndpoint(this.db, actor.orgId, id);
    if (!endpoint) throw new AppError('NOT_FOUND');
    const delivery = await this.db.transaction((t) =>
      this.delivery.createDelivery(t as unknown as Tx, {
        orgId: actor.orgId,
        endpointId: endpoint.id,
        eventType: TEST_EVENT,
        data: { webhook_id: endpoint.id, message: 'A test delivery from Tadween. تجربة إرسال من تدوين.' },
        retryable: false,
      }),
    );
    return { delivery_id: delivery.id, status: 'queued' };
  }
}
