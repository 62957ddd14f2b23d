import { createHmac, randomBytes } from 'node:crypto';

/** Events an endpoint may subscribe to (outbox event types of the same names). */
export const WEBHOOK_EVENTS = ['knowledge.created', 'knowledge.updated', 'knowledge.deleted', 'member.invited', 'member.removed', 'query.asked'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** The type of synthetic deliveries sent by POST /webhooks/:id/test. */
export const TEST_EVENT = 'webhook.test';

/** A new signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The `webhook-signature` header value per the Standard Webhooks specification: `v1,` + base64
 * HMAC-SHA256 of `${id}.${timestamp}.${body}`, keyed by the base64-decoded part of the secret.
 */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64')}`;
}
