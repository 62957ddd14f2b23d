import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf } from '../../platform/auth/guard.ts';
import { Organization } from '../auth/auth.routes.ts';
import { OrgsService, listPlans } from './orgs.service.ts';
import { SsoService, type SsoInput } from './sso.ts';

const TAGS = ['organizations'];
const Limit = Type.Object({ used: Type.Integer(), limit: Type.Union([Type.Integer(), Type.Null()]) });
const Location = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  name_ar: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()]),
  timezone: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const Byok = Type.Object({
  provider: Type.Union([Type.Literal('openai-compatible'), Type.Literal('anthropic')]),
  base_url: Type.Union([Type.String(), Type.Null()]),
  model: Type.String(),
  api_key_last4: Type.String(),
  updated_at: Type.String({ format: 'date-time' }),
});
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const byokAuth = { auth: { minRole: 'admin' as const, minPlan: 'enterprise' as const, feature: 'byok' } };
const ssoAuth = { auth: { minRole: 'admin' as const, minPlan: 'enterprise' as const, feature: 'sso' } };
const Sso = Type.Object({
  type: Type.Union([Type.Literal('oidc'), Type.Literal('saml')]),
  issuer: Type.Union([Type.String(), Type.Null()]),
  client_id: Type.Union([Type.String(), Type.Null()]),
  client_secret_set: Type.Boolean(),
  metadata_url: Type.Union([Type.String(), Type.Null()]),
  metadata_xml_set: Type.Boolean(),
  updated_at: Type.String({ format: 'date-time' }),
});

/** Plans, the organisation's profile and limits, locations and BYOK under /api/v1/organizations. */
export function register(app: App, deps: Deps): void {
  const service = new OrgsService(deps.database.db, deps.sealer);
  deps.ai.setByokResolver((orgId) => service.byokSettings(orgId));

  app.get(
    '/api/v1/organizations/plans',
    {
      schema: {
        tags: TAGS,
        summary: 'Plans with prices, limits and features',
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.String(),
                name: Type.Object({ en: Type.String(), ar: Type.String() }),
                price_cents: Type.Integer(),
                currency: Type.String(),
                user_limit: Type.Union([Type.Integer(), Type.Null()]),
                integration_limit: Type.Union([Type.Integer(), Type.Null()]),
                trial_days: Type.Union([Type.Integer(), Type.Null()]),
                features: Type.Array(Type.String()),
              }),
            ),
          }),
        },
      },
    },
    async () => ({ items: listPlans() }),
  );

  app.get('/api/v1/organizations/me', { config: { auth: {} }, schema: { tags: TAGS, summary: 'The organisation', response: { 200: Organization } } }, async (request) =>
    service.me(actorOf(request)),
  );

  app.patch(
    '/api/v1/organizations/me',
    {
      config: { auth: { minRole: 'admin' } },
      schema: {
        tags: TAGS,
        summary: 'Update organisation settings',
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            default_language: Type.Optional(Type.Union([Type.Literal('ar'), Type.Literal('en')])),
            timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Asia/Riyadh' })),
          },
          { minProperties: 1 },
        ),
        response: { 200: Organization },
      },
    },
    async (request) => service.update(actorOf(request), request.body),
  );

  app.get(
    '/api/v1/organizations/me/limits',
    {
      config: { auth: {} },
      schema: {
        tags: TAGS,
        summary: 'Usage against the plan limits',
        response: { 200: Type.Object({ plan: Type.String(), users: Limit, integrations: Limit, entries: Limit, storage_bytes: Limit, api_keys: Limit }) },
      },
    },
    async (request) => service.limits(actorOf(request)),
  );

  app.get('/api/v1/organizations/locations', { config: { auth: {} }, schema: { tags: TAGS, summary: 'Locations', response: { 200: Type.Object({ items: Type.Array(Location) }) } } }, async (request) =>
    service.listLocations(actorOf(request)),
  );

  const LocationBody = {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    name_ar: Type.Optional(Type.String({ maxLength: 200 })),
    address: Type.Optional(Type.String({ maxLength: 500 })),
    timezone: Type.Optional(Type.String({ maxLength: 64 })),
  };

  app.post(
    '/api/v1/organizations/locations',
    {
      config: { auth: { minRole: 'manager', minPlan: 'growth', feature: 'locations' }, idempotent: true },
      schema: { tags: TAGS, summary: 'Create a location', body: Type.Object(LocationBody), response: { 201: Location } },
    },
    async (request, reply) => reply.code(201).send(await service.createLocation(actorOf(request), request.body)),
  );

  app.put(
    '/api/v1/organizations/locations/:id',
    {
      config: { auth: { minRole: 'manager' } },
      schema: {
        tags: TAGS,
        summary: 'Update a location',
        params: IdParams,
        body: Type.Object({
          name: Type.Optional(LocationBody.name),
          name_ar: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
          address: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
          timezone: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
        }),
        response: { 200: Location },
      },
    },
    async (request) => service.updateLocation(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/v1/organizations/locations/:id',
    { config: { auth: { minRole: 'manager' } }, schema: { tags: TAGS, summary: 'Delete a location', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await service.deleteLocation(actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  const sso = new SsoService(deps.database.db, deps.sealer, { allowPrivate: deps.config.webhooksAllowPrivate, requireHttps: deps.config.nodeEnv === 'production' });

  app.get('/api/v1/organizations/sso', { config: ssoAuth, schema: { tags: TAGS, summary: 'Single sign-on configuration (secrets never shown)', response: { 200: Sso } } }, async (request) =>
    sso.get(actorOf(request)),
  );

  app.put(
    '/api/v1/organizations/sso',
    {
      config: ssoAuth,
      schema: {
        tags: TAGS,
        summary: 'Configure single sign-on: an OIDC issuer or a SAML identity provider',
        body: Type.Union([
          Type.Object({
            type: Type.Literal('oidc'),
            issuer: Type.String({ format: 'uri', maxLength: 500 }),
            client_id: Type.String({ minLength: 1, maxLength: 500 }),
            client_secret: Type.String({ minLength: 1, maxLength: 2000 }),
          }),
          Type.Object({
            type: Type.Literal('saml'),
            metadata_xml: Type.Optional(Type.String({ minLength: 20, maxLength: 500_000 })),
            metadata_url: Type.Optional(Type.String({ format: 'uri', maxLength: 2000 })),
          }),
        ]),
        response: { 200: Sso },
      },
    },
    async (request) => sso.put(actorOf(request), request.body as SsoInput),
  );

  app.delete('/api/v1/organizations/sso', { config: ssoAuth, schema: { tags: TAGS, summary: 'Remove single sign-on', response: { 204: Type.Null() } } }, async (request, reply) => {
    await sso.remove(actorOf(request));
    return reply.code(204).send(null);
  });

  app.post(
    '/api/v1/organizations/sso/test',
    {
      config: ssoAuth,
      schema: {
        tags: TAGS,
        summary: 'Validate the SSO configuration against the identity provider',
        description: 'OIDC: the discovery document (issuer, endpoints) and its signing keys. SAML: entity id, SSO URL and signing certificate in the metadata.',
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            type: Type.Union([Type.Literal('oidc'), Type.Literal('saml')]),
            checks: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean(), detail: Type.Optional(Type.String()) })),
          }),
        },
      },
    },
    async (request) => sso.test(actorOf(request)),
  );

  app.get('/api/v1/organizations/byok', { config: byokAuth, schema: { tags: TAGS, summary: 'The organisation LLM key settings (never the key)', response: { 200: Byok } } }, async (request) =>
    service.getByok(actorOf(request)),
  );

  app.put(
    '/api/v1/organizations/byok',
    {
      config: byokAuth,
      schema: {
        tags: TAGS,
        summary: 'Set the organisation LLM key',
        description: 'The key is encrypted at rest (AES-256-GCM) and never returned; only its last 4 characters are shown.',
        body: Type.Object({
          provider: Type.Union([Type.Literal('openai-compatible'), Type.Literal('anthropic')]),
          api_key: Type.String({ minLength: 4, maxLength: 500 }),
          base_url: Type.Optional(Type.String({ format: 'uri', maxLength: 500 })),
          model: Type.String({ minLength: 1, maxLength: 200 }),
        }),
        response: { 200: Byok },
      },
    },
    async (request) => service.putByok(actorOf(request), request.body),
  );

  app.delete('/api/v1/organizations/byok', { config: byokAuth, schema: { tags: TAGS, summary: 'Remove the organisation LLM key', response: { 204: Type.Null() } } }, async (request, reply) => {
    await service.deleteByok(actorOf(request));
    return reply.code(204).send(null);
  });

  app.post(
    '/api/v1/organizations/byok/test',
    {
      config: byokAuth,
      schema: {
        tags: TAGS,
        summary: 'Test the organisation LLM key against its provider',
        response: { 200: Type.Object({ ok: Type.Boolean(), status: Type.Optional(Type.Integer()), error: Type.Optional(Type.String()), latency_ms: Type.Integer() }) },
      },
    },
    async (request) => service.testByok(actorOf(request)),
  );
}
