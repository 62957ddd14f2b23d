import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf, type RouteAuth } from '../../platform/auth/guard.ts';
import { pageRequest } from '../../platform/http/pagination.ts';
import { errorResponses, GUARDED } from '../external/errors.schemas.ts';
import { WebhookDelivery, webhookPolicy } from './webhooks.delivery.ts';
import {
  CreatedWebhook,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryList,
  ListWebhooksQuery,
  TestDelivery,
  UpdateWebhookBody,
  Webhook,
  WebhookIdParams,
  WebhookList,
} from './webhooks.schemas.ts';
import { WebhooksService } from './webhooks.service.ts';

const MANAGE: RouteAuth = { minRole: 'manager', minPlan: 'growth', feature: 'webhooks' };

/** Outbound webhooks: endpoint management for managers on Growth and above, and the delivery machinery. */
export function register(app: App, deps: Deps): void {
  const delivery = new WebhookDelivery({ db: deps.database.db, jobs: deps.jobs, sealer: deps.sealer, config: deps.config, log: deps.log.child({ component: 'webhooks' }) });
  delivery.install(deps.outbox);
  const service = new WebhooksService(deps.database.db, deps.sealer, delivery, webhookPolicy(deps.config));

  app.post(
    '/api/v1/webhooks',
    {
      config: { auth: MANAGE, idempotent: true },
      schema: {
        tags: ['webhooks'],
        summary: 'Register a webhook endpoint (the signing secret is shown once)',
        description:
          'Deliveries follow the Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature `v1,<base64 HMAC-SHA256>`); ' +
          'the body is `{type, timestamp, data}`. URLs resolving to loopback, private, link-local or metadata addresses are refused with URL_NOT_ALLOWED.',
        body: CreateWebhookBody,
        response: { 201: CreatedWebhook, ...errorResponses(...GUARDED, 409, 422) },
      },
    },
    async (request, reply) => {
      const created = await service.create(actorOf(request), request.body);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/api/v1/webhooks',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['webhooks'],
        summary: 'List webhook endpoints with their state',
        querystring: ListWebhooksQuery,
        response: { 200: WebhookList, ...errorResponses(...GUARDED, 422) },
      },
    },
    async (request) => service.list(actorOf(request), pageRequest(request.query)),
  );

  app.patch(
    '/api/v1/webhooks/:id',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['webhooks'],
        summary: 'Change a webhook endpoint, or enable / disable it',
        params: WebhookIdParams,
        body: UpdateWebhookBody,
        response: { 200: Webhook, ...errorResponses(...GUARDED, 404, 422) },
      },
    },
    async (request) => service.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/v1/webhooks/:id',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook endpoint',
        params: WebhookIdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(...GUARDED, 404, 422) },
      },
    },
    async (request, reply) => {
      await service.remove(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      config: { auth: MANAGE },
      schema: {
        tags: ['webhooks'],
        summary: 'Delivery attempts of an endpoint, newest first',
        params: WebhookIdParams,
        querystring: DeliveriesQuery,
        response: { 200: DeliveryList, ...errorResponses(...GUARDED, 404, 422) },
      },
    },
    async (request) => {
      const { page, per_page, ...filters } = request.query;
      return service.deliveries(actorOf(request), request.params.id, filters as Parameters<WebhooksService['deliveries']>[2], pageRequest({ page, per_page }));
    },
  );

  app.post(
    '/api/v1/webhooks/:id/test',
    {
      config: { auth: MANAGE, idempotent: true },
      schema: {
        tags: ['webhooks'],
        summary: 'Send a synthetic webhook.test delivery',
        params: WebhookIdParams,
        response: { 202: TestDelivery, ...errorResponses(...GUARDED, 404, 422) },
      },
    },
    async (request, reply) => reply.code(202).send(await service.test(actorOf(request), request.params.id)),
  );
}
