import { Type, type Static, type TSchema } from 'typebox';
import { Paginated, PaginationQuery } from '../../platform/http/pagination.ts';
import { WEBHOOK_EVENTS } from './webhooks.signing.ts';

const EventName = Type.Enum([...WEBHOOK_EVENTS], { description: `One of: ${WEBHOOK_EVENTS.join(', ')}.` });
const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'An https URL (http is accepted outside production) on a public address.' });
const Events = Type.Array(EventName, { minItems: 1, maxItems: 50, description: 'Event types to deliver to this endpoint.' });
const Description = Type.String({ maxLength: 500 });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const CreateWebhookBody = Type.Object({ url: Url, events: Events, description: Type.Optional(Description) }, { additionalProperties: false });
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    description: Type.Optional(Nullable(Description)),
    enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint and resets its failure count.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

export const Webhook = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  description: Nullable(Type.String()),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
  consecutive_failures: Type.Integer({ description: 'Failed attempts since the last success; the endpoint is disabled at the configured limit.' }),
  disabled_at: Nullable(Timestamp),
  disabled_reason: Nullable(Type.String()),
  last_success_at: Nullable(Timestamp),
  last_failure_at: Nullable(Timestamp),
  created_by: Nullable(Type.String({ format: 'uuid' })),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Webhook = Static<typeof Webhook>;

export const CreatedWebhook = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'The signing secret (`whsec_…`). Shown only in this response; store it now.' }),
});

export const WebhookList = Paginated(Webhook);
export const ListWebhooksQuery = Type.Object(PaginationQuery);
export const WebhookIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const DeliveriesQuery = Type.Object({
  ...PaginationQuery,
  status: Type.Optional(Type.Enum(['queued', 'succeeded', 'failed', 'cancelled'])),
  delivery_id: Type.Optional(Type.String({ format: 'uuid', description: 'Only the attempts of this delivery.' })),
});

export const DeliveryAttempt = Type.Object({
  id: Type.String({ format: 'uuid' }),
  delivery_id: Type.String({ format: 'uuid', description: 'Also the webhook-id header: the same on every retry.' }),
  event: Type.String(),
  attempt: Type.Integer({ description: '1 for the first try, 2 for the first retry, …' }),
  status: Type.Union([Type.Literal('queued'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]),
  response_code: Nullable(Type.Integer()),
  duration_ms: Nullable(Type.Integer()),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  scheduled_for: Timestamp,
  attempted_at: Nullable(Timestamp),
  next_attempt_at: Nullable(Timestamp),
});
export type DeliveryAttempt = Static<typeof DeliveryAttempt>;
export const DeliveryList = Paginated(DeliveryAttempt);

export const TestDelivery = Type.Object({
  delivery_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('queued'),
});
