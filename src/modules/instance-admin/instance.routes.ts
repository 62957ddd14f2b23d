import { timingSafeEqual } from 'node:crypto';
import { and, count, desc, eq, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { instanceAdmins, instanceSettings, organizations, users } from '../../db/schema/index.ts';
import { INSTANCE_AUDIENCE } from '../../platform/auth/tokens.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { Paginated, PaginationQuery, pageOf, pageRequest } from '../../platform/http/pagination.ts';
import { AuthService, signupSettings } from '../auth/auth.service.ts';
import { Mailer } from '../../platform/mail/mailer.ts';

defineErrors({
  ALREADY_SET_UP: { status: 409, en: 'This instance is already set up.', ar: 'تم إعداد هذه النسخة بالفعل.' },
  SETUP_TOKEN_INVALID: { status: 403, en: 'The setup token is missing or wrong.', ar: 'رمز الإعداد مفقود أو غير صحيح.' },
});

const TAGS = ['instance'];
const PlanT = Type.Union([Type.Literal('trial'), Type.Literal('starter'), Type.Literal('growth'), Type.Literal('enterprise')]);
const SignupSettings = Type.Object({ signup_enabled: Type.Boolean(), allowed_email_domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 500 }) });
const InstanceOrg = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  plan: PlanT,
  trial_ends_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  subscription_status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  member_count: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
});

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Self-hosted operator routes: one-shot setup, operator sign-in, organisations and sign-up rules. */
export function register(app: App, deps: Deps): void {
  const db = deps.database.db;
  const auth = new AuthService(db, deps.tokens, new Mailer(db, deps.log, { from: deps.config.mailFrom }), deps.outbox, deps.config);

  /** Operator tokens have their own audience: they open no organisation route, and org tokens open none of these. */
  const requireOperator = async (request: FastifyRequest): Promise<string> => {
    const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!m) throw new AppError('UNAUTHORIZED');
    const claims = await deps.tokens.verify(m[1]!, INSTANCE_AUDIENCE);
    const [admin] = await db.select({ id: instanceAdmins.id }).from(instanceAdmins).where(eq(instanceAdmins.id, claims.sub));
    if (!admin) throw new AppError('TOKEN_INVALID');
    return admin.id;
  };

  app.get(
    '/api/v1/instance/setup-status',
    {
      schema: {
        tags: TAGS,
        summary: 'Whether the instance is set up, and how people may join',
        response: { 200: Type.Object({ bootstrapped: Type.Boolean(), signup_enabled: Type.Boolean(), google_enabled: Type.Boolean(), locales: Type.Array(Type.String()) }) },
      },
    },
    async () => {
      const [admins] = await db.select({ n: count() }).from(instanceAdmins);
      const s = await signupSettings(db);
      return { bootstrapped: (admins?.n ?? 0) > 0, signup_enabled: s.signup_enabled, google_enabled: !!deps.config.google.clientId, locales: ['ar', 'en'] };
    },
  );

  app.post(
    '/api/v1/instance/setup',
    {
      config: { rateLimit: { max: 10, windowSeconds: 60 } },
      schema: {
        tags: TAGS,
        summary: 'Create the instance administrator (once)',
        description: 'When SETUP_TOKEN is configured it must be sent as the X-Setup-Token header.',
        body: Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }), password: Type.String({ minLength: 10, maxLength: 256 }) }),
        response: { 201: Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String() }) },
      },
    },
    async (request, reply) => {
      const expected = deps.config.setupToken;
      const given = request.headers['x-setup-token'];
      if (expected && (typeof given !== 'string' || !safeEqual(given, expected))) throw new AppError('SETUP_TOKEN_INVALID');
      const email = request.body.email.trim().toLowerCase();
      const passwordHash = await auth.hashPassword(request.body.password);
      const id = newId();
      const created = await db.transaction(async (tx) => {
        // Serialise concurrent setups: only the first may create the administrator.
        await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('tadween.instance-setup'))`);
        const [existing] = await tx.select({ n: count() }).from(instanceAdmins);
        if ((existing?.n ?? 0) > 0) return false;
        await tx.insert(instanceAdmins).values({ id, email, passwordHash });
        return true;
      });
      if (!created) throw new AppError('ALREADY_SET_UP');
      return reply.code(201).send({ id, email });
    },
  );

  app.post(
    '/api/v1/instance/login',
    {
      config: { rateLimit: { max: 10, windowSeconds: 60 } },
      schema: {
        tags: TAGS,
        summary: 'Sign in as the instance administrator',
        body: Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() }) },
      },
    },
    async (request, reply) => {
      const [admin] = await db.select().from(instanceAdmins).where(eq(instanceAdmins.email, request.body.email.trim().toLowerCase()));
      const ok = await auth.verifyPassword(admin?.passwordHash, request.body.password);
      if (!admin || !ok) throw new AppError('INVALID_CREDENTIALS');
      const t = await deps.tokens.sign({ scope: 'instance:admin' }, admin.id, INSTANCE_AUDIENCE, 3600);
      reply.header('cache-control', 'no-store');
      return { access_token: t.token, token_type: 'Bearer' as const, expires_in: t.expiresIn };
    },
  );

  app.get(
    '/api/v1/instance/organizations',
    {
      schema: { tags: TAGS, summary: 'Organisations of the instance', security: [{ bearer: [] }], querystring: Type.Object({ ...PaginationQuery }), response: { 200: Paginated(InstanceOrg) } },
    },
    async (request) => {
      await requireOperator(request);
      const page = pageRequest(request.query);
      const memberCount = sql<number>`(SELECT count(*)::int FROM users u WHERE u.org_id = "organizations"."id" AND u.status = 'active')`;
      const [rows, [total]] = await Promise.all([
        db.select({ org: organizations, members: memberCount }).from(organizations).orderBy(desc(organizations.createdAt), desc(organizations.id)).limit(page.limit).offset(page.offset),
        db.select({ n: count() }).from(organizations),
      ]);
      return pageOf(
        rows.map(({ org, members }) => ({
          id: org.id,
          name: org.name,
          plan: org.plan,
          trial_ends_at: org.trialEndsAt?.toISOString() ?? null,
          subscription_status: org.subscriptionStatus,
          member_count: Number(members),
          created_at: org.createdAt.toISOString(),
        })),
        total?.n ?? 0,
        page,
      );
    },
  );

  app.patch(
    '/api/v1/instance/organizations/:id',
    {
      schema: {
        tags: TAGS,
        summary: "Change an organisation's plan, trial end or subscription status",
        description: 'Takes effect on the organisation’s next request; its next token carries the new plan.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        body: Type.Object(
          {
            plan: Type.Optional(PlanT),
            trial_ends_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            subscription_status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
          },
          { minProperties: 1 },
        ),
        response: { 200: InstanceOrg },
      },
    },
    async (request) => {
      await requireOperator(request);
      const b = request.body;
      const [org] = await db
        .update(organizations)
        .set({
          ...(b.plan ? { plan: b.plan } : {}),
          ...(b.trial_ends_at !== undefined ? { trialEndsAt: b.trial_ends_at ? new Date(b.trial_ends_at) : null } : {}),
          ...(b.subscription_status ? { subscriptionStatus: b.subscription_status } : {}),
          updatedAt: new Date(),
        })
        .where(eq(organizations.id, request.params.id))
        .returning();
      if (!org) throw new AppError('NOT_FOUND', { resource: 'organization' });
      const [members] = await db.select({ n: count() }).from(users).where(and(eq(users.orgId, org.id), eq(users.status, 'active')));
      return {
        id: org.id,
        name: org.name,
        plan: org.plan,
        trial_ends_at: org.trialEndsAt?.toISOString() ?? null,
        subscription_status: org.subscriptionStatus,
        member_count: members?.n ?? 0,
        created_at: org.createdAt.toISOString(),
      };
    },
  );

  app.get(
    '/api/v1/instance/signup-settings',
    { schema: { tags: TAGS, summary: 'Sign-up rules', security: [{ bearer: [] }], response: { 200: SignupSettings } } },
    async (request) => {
      await requireOperator(request);
      return signupSettings(db);
    },
  );

  app.put(
    '/api/v1/instance/signup-settings',
    { schema: { tags: TAGS, summary: 'Set the sign-up rules', security: [{ bearer: [] }], body: SignupSettings, response: { 200: SignupSettings } } },
    async (request) => {
      await requireOperator(request);
      const value = { signup_enabled: request.body.signup_enabled, allowed_email_domains: request.body.allowed_email_domains.map((d) => d.trim().toLowerCase().replace(/^@/, '')) };
      await db.insert(instanceSettings).values({ key: 'signup', value }).onConflictDoUpdate({ target: instanceSettings.key, set: { value, updatedAt: new Date() } });
      return value;
    },
  );
}
