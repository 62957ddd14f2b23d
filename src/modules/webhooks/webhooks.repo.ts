import { and, arrayContains, count, desc, eq, inArray, sql } from 'drizzle-orm';
import { organizations, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema/index.ts';
import { PLANS, planRank } from '../../platform/auth/plans.ts';
import type { Db, Tx } from '../../platform/db/client.ts';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;
export type AttemptError = NonNullable<AttemptRow['error']>;

/** Plans on which webhooks are delivered. */
const WEBHOOK_PLANS = PLANS.filter((p) => planRank(p) >= planRank('growth'));

/** Stores a new endpoint. */
export async function insertEndpoint(db: Db, row: typeof webhookEndpoints.$inferInsert): Promise<EndpointRow> {
  const [created] = await db.insert(webhookEndpoints).values(row).returning();
  return created!;
}

/** How many endpoints an organisation has. */
export async function countEndpoints(db: Db, orgId: string): Promise<number> {
  const [r] = await db.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.orgId, orgId));
  return r?.n ?? 0;
}

/** A page of an organisation's endpoints, newest first. */
export async function listEndpoints(db: Db, orgId: string, page: { limit: number; offset: number }): Promise<{ rows: EndpointRow[]; total: number }> {
  const where = eq(webhookEndpoints.orgId, orgId);
  const [rows, totals] = await Promise.all([
    db.select().from(webhookEndpoints).where(where).orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(webhookEndpoints).where(where),
  ]);
  return { rows, total: totals[0]?.n ?? 0 };
}

/** One endpoint of the organisation, or undefined. */
export async function getEndpoint(db: Db, orgId: string, id: string): Promise<EndpointRow | undefined> {
  const [row] = await db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.orgId, orgId)));
  return row;
}

/** Changes an endpoint of the organisation; undefined when it is not theirs. */
export async function updateEndpoint(db: Db, orgId: string, id: string, set: Partial<typeof webhookEndpoints.$inferInsert>): Promise<EndpointRow | undefined> {
  const [row] = await db
    .update(webhookEndpoints)
    .set({ ...set, updatedAt: new Date() })
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.orgId, orgId)))
    .returning();
  return row;
}

/** Deletes an endpoint with its deliveries and attempts; false when it is not theirs. */
export async function deleteEndpoint(db: Db, orgId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.orgId, orgId)))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

/** A page of an endpoint's attempts with their event type, newest first. */
export async function listAttempts(
  db: Db,
  orgId: string,
  endpointId: string,
  f: { status?: AttemptRow['status']; deliveryId?: string; limit: number; offset: number },
) {
  const where = and(
    eq(webhookAttempts.orgId, orgId),
    eq(webhookAttempts.endpointId, endpointId),
    f.status ? eq(webhookAttempts.status, f.status) : undefined,
    f.deliveryId ? eq(webhookAttempts.deliveryId, f.deliveryId) : undefined,
  );
  const [rows, totals] = await Promise.all([
    db
      .select({ attempt: webhookAttempts, event: webhookDeliveries.eventType })
      .from(webhookAttempts)
      .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookAttempts.deliveryId))
      .where(where)
      .orderBy(desc(webhookAttempts.id))
      .limit(f.limit)
      .offset(f.offset),
    db.select({ n: count() }).from(webhookAttempts).where(where),
  ]);
  return { rows, total: totals[0]?.n ?? 0 };
}

/** Enabled endpoints of an organisation on a webhook plan that subscribe to `type`. */
export async function subscribedEndpoints(db: Db, orgId: string, type: string): Promise<Array<{ id: string }>> {
  return db
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .innerJoin(organizations, eq(organizations.id, webhookEndpoints.orgId))
    .where(
      and(
        eq(webhookEndpoints.orgId, orgId),
        eq(webhookEndpoints.enabled, true),
        arrayContains(webhookEndpoints.events, [type]),
        inArray(organizations.plan, WEBHOOK_PLANS),
        eq(organizations.subscriptionStatus, 'active'),
      ),
    );
}

/** Creates a delivery; for an event already delivered to that endpoint it returns undefined (at-least-once input). */
export async function insertDelivery(tx: Tx, row: typeof webhookDeliveries.$inferInsert): Promise<DeliveryRow | undefined> {
  const [created] = await tx.insert(webhookDeliveries).values(row).onConflictDoNothing().returning();
  return created;
}

/** Records a scheduled attempt. */
export async function insertAttempt(tx: Tx, row: typeof webhookAttempts.$inferInsert): Promise<AttemptRow> {
  const [created] = await tx.insert(webhookAttempts).values(row).returning();
  return created!;
}

/** An attempt with its delivery and endpoint (whichever organisation; used by the delivery job). */
export async function loadAttempt(db: Db, attemptId: string) {
  const [row] = await db
    .select({ attempt: webhookAttempts, delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookAttempts)
    .innerJoin(webhookDeliveries, eq(webhookDeliveries.id, webhookAttempts.deliveryId))
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookAttempts.endpointId))
    .where(eq(webhookAttempts.id, attemptId));
  return row;
}

/** Settles a queued attempt; false when it was no longer queued (or no longer exists). */
export async function settleAttempt(tx: Tx, attemptId: string, set: Partial<typeof webhookAttempts.$inferInsert>): Promise<boolean> {
  const rows = await tx
    .update(webhookAttempts)
    .set(set)
    .where(and(eq(webhookAttempts.id, attemptId), eq(webhookAttempts.status, 'queued')))
    .returning({ id: webhookAttempts.id });
  return rows.length > 0;
}

/** Notes on a settled attempt when the next one will be made. */
export async function setNextAttempt(tx: Tx, attemptId: string, at: Date): Promise<void> {
  await tx.update(webhookAttempts).set({ nextAttemptAt: at }).where(eq(webhookAttempts.id, attemptId));
}

/** Sets the final state of a delivery. */
export async function finishDelivery(tx: Tx, deliveryId: string, status: DeliveryRow['status']): Promise<void> {
  await tx.update(webhookDeliveries).set({ status, completedAt: new Date() }).where(eq(webhookDeliveries.id, deliveryId));
}

/** Notes a successful attempt: the consecutive-failure count starts again from zero. */
export async function noteSuccess(tx: Tx, endpointId: string): Promise<void> {
  await tx.update(webhookEndpoints).set({ consecutiveFailures: 0, lastSuccessAt: new Date() }).where(eq(webhookEndpoints.id, endpointId));
}

/** Counts a failed attempt and disables the endpoint when the count reaches `disableAfter`; returns its new state. */
export async function noteFailure(tx: Tx, endpointId: string, disableAfter: number): Promise<{ failures: number; enabled: boolean; justDisabled: boolean } | undefined> {
  const [row] = await tx
    .update(webhookEndpoints)
    .set({ consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1`, lastFailureAt: new Date() })
    .where(eq(webhookEndpoints.id, endpointId))
    .returning({ failures: webhookEndpoints.consecutiveFailures, enabled: webhookEndpoints.enabled });
  if (!row) return undefined;
  if (row.enabled && row.failures >= disableAfter) {
    await disableEndpoint(tx, endpointId, `${row.failures} consecutive failed delivery attempts`);
    return { failures: row.failures, enabled: false, justDisabled: true };
  }
  return { ...row, justDisabled: false };
}

/** Disables an endpoint and cancels its queued attempts (their deliveries end as cancelled). */
export async function disableEndpoint(tx: Tx, endpointId: string, reason: string): Promise<void> {
  const now = new Date();
  await tx.update(webhookEndpoints).set({ enabled: false, disabledAt: now, disabledReason: reason, updatedAt: now }).where(eq(webhookEndpoints.id, endpointId));
  await cancelQueued(tx, endpointId, { code: 'ENDPOINT_DISABLED', message: `The endpoint was disabled: ${reason}.` });
}

/** Cancels the queued attempts of an endpoint's retryable deliveries. */
export async function cancelQueued(tx: Tx, endpointId: string, error: AttemptError): Promise<void> {
  const cancelled = await tx
    .update(webhookAttempts)
    .set({ status: 'cancelled', error })
    .where(
      and(
        eq(webhookAttempts.endpointId, endpointId),
        eq(webhookAttempts.status, 'queued'),
        inArray(
          webhookAttempts.deliveryId,
          tx.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.retryable, true))),
        ),
      ),
    )
    .returning({ deliveryId: webhookAttempts.deliveryId });
  if (cancelled.length > 0) {
    await tx
      .update(webhookDeliveries)
      .set({ status: 'cancelled', completedAt: new Date() })
      .where(and(inArray(webhookDeliveries.id, cancelled.map((c) => c.deliveryId)), eq(webhookDeliveries.status, 'pending')));
  }
}
