import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { App, Deps } from '../../app.ts';
import { actorOf } from '../../platform/auth/guard.ts';
import { Paginated, PaginationQuery, pageRequest } from '../../platform/http/pagination.ts';
import { Mailer } from '../../platform/mail/mailer.ts';
import { AuthService, type Session } from './auth.service.ts';

export const REFRESH_COOKIE = 'knora_refresh_token';
const TAGS = ['auth'];

const Lang = Type.Union([Type.Literal('ar'), Type.Literal('en')]);
const RoleT = Type.Union([Type.Literal('member'), Type.Literal('manager'), Type.Literal('admin')]);
const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 10, maxLength: 256, description: 'At least 10 characters' });

export const User = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  full_name: Type.String(),
  role: RoleT,
  is_org_owner: Type.Boolean(),
  status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
  language: Type.Union([Lang, Type.Null()]),
  avatar_url: Type.Union([Type.String(), Type.Null()]),
  org_id: Type.String({ format: 'uuid' }),
  created_at: Type.String({ format: 'date-time' }),
  last_login_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const Organization = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  plan: Type.Union([Type.Literal('trial'), Type.Literal('starter'), Type.Literal('growth'), Type.Literal('enterprise')]),
  trial_ends_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  subscription_status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  default_language: Lang,
  timezone: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  user: User,
  organization: Organization,
});

const Me = Type.Intersect([User, Type.Object({ organization: Organization })]);
const MeUpdated = Type.Intersect([Me, Type.Object({ access_token: Type.Optional(Type.String()), token_type: Type.Optional(Type.Literal('Bearer')), expires_in: Type.Optional(Type.Integer()) })]);

/** Sign-up, sign-in, sessions, profile, invitations, members and password resets under /api/v1/auth. */
export function register(app: App, deps: Deps): void {
  const mailer = new Mailer(deps.database.db, deps.log.child({ component: 'mail' }), { ...(deps.config.smtpUrl ? { smtpUrl: deps.config.smtpUrl } : {}), from: deps.config.mailFrom });
  const service = new AuthService(deps.database.db, deps.tokens, mailer, deps.outbox, deps.config);
  const secureCookie = deps.config.publicUrl.startsWith('https://');

  const sendSession = (reply: FastifyReply, session: Session, status: number) => {
    reply.setCookie(REFRESH_COOKIE, session.refreshToken, { httpOnly: true, path: '/', sameSite: 'lax', secure: secureCookie, maxAge: 30 * 86400 });
    reply.header('cache-control', 'no-store');
    return reply.code(status).send(session.body);
  };
  const publicLimit = { max: 10, windowSeconds: 60 };

  app.post(
    '/api/v1/auth/register',
    {
      config: { rateLimit: publicLimit },
      schema: {
        tags: TAGS,
        summary: 'Register and create an organisation',
        description: 'Creates the organisation on the default plan (trial: 14 days) with the caller as its owner, and signs in.',
        body: Type.Object({ email: Email, password: Password, full_name: Type.String({ minLength: 1, maxLength: 200 }), organization_name: Type.String({ minLength: 1, maxLength: 200 }), language: Type.Optional(Lang) }),
        response: { 201: TokenResponse },
      },
    },
    async (request, reply) => sendSession(reply, await service.register(request.body), 201),
  );

  app.post(
    '/api/v1/auth/login',
    {
      config: { rateLimit: publicLimit },
      schema: { tags: TAGS, summary: 'Sign in with email and password', body: Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 256 }) }), response: { 200: TokenResponse } },
    },
    async (request, reply) => sendSession(reply, await service.login(request.body), 200),
  );

  app.post(
    '/api/v1/auth/google',
    {
      config: { rateLimit: publicLimit },
      schema: {
        tags: TAGS,
        summary: 'Sign in or register with a Google ID token',
        body: Type.Object({ id_token: Type.String({ minLength: 10, maxLength: 8192 }) }),
        response: { 200: TokenResponse, 201: TokenResponse },
      },
    },
    async (request, reply) => {
      const { session, created } = await service.google(request.body.id_token);
      return sendSession(reply, session, created ? 201 : 200);
    },
  );

  app.post(
    '/api/v1/auth/refresh',
    {
      config: { rateLimit: { max: 20, windowSeconds: 60 } },
      schema: { tags: TAGS, summary: 'Rotate the refresh cookie and get a new access token', response: { 200: TokenResponse } },
    },
    async (request, reply) => {
      try {
        return sendSession(reply, await service.refresh(request.cookies[REFRESH_COOKIE]), 200);
      } catch (err) {
        reply.clearCookie(REFRESH_COOKIE, { path: '/' });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/auth/logout',
    { config: { auth: { subscription: false } }, schema: { tags: TAGS, summary: 'Revoke the access token and the session', response: { 204: Type.Null() } } },
    async (request, reply) => {
      await service.logout(actorOf(request), request.cookies[REFRESH_COOKIE]);
      reply.clearCookie(REFRESH_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    { config: { auth: { subscription: false } }, schema: { tags: TAGS, summary: 'The current person and organisation', response: { 200: Me } } },
    async (request) => service.me(actorOf(request)),
  );

  app.put(
    '/api/v1/auth/me',
    {
      config: { auth: { subscription: false } },
      schema: {
        tags: TAGS,
        summary: 'Update the profile',
        description: 'Changing the password needs current_password, ends every other session and returns a fresh access token (and refresh cookie).',
        body: Type.Object({
          full_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          language: Type.Optional(Lang),
          avatar_url: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2000 }), Type.Null()])),
          password: Type.Optional(Password),
          current_password: Type.Optional(Type.String({ maxLength: 256 })),
        }),
        response: { 200: MeUpdated },
      },
    },
    async (request, reply) => {
      const { profile, session } = await service.updateMe(actorOf(request), request.body);
      if (!session) return profile;
      reply.setCookie(REFRESH_COOKIE, session.refreshToken, { httpOnly: true, path: '/', sameSite: 'lax', secure: secureCookie, maxAge: 30 * 86400 });
      reply.header('cache-control', 'no-store');
      return { ...profile, access_token: session.body.access_token, token_type: 'Bearer' as const, expires_in: session.body.expires_in };
    },
  );

  app.post(
    '/api/v1/auth/invite',
    {
      config: { auth: { minRole: 'manager', subscription: false }, rateLimit: { max: 20, windowSeconds: 60 }, idempotent: true },
      schema: {
        tags: TAGS,
        summary: 'Invite someone to the organisation',
        description: 'The invitation token travels only by email (valid 7 days, once). A manager may invite members and managers; seats follow the plan.',
        body: Type.Object({ email: Email, role: RoleT }),
        response: { 201: Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String(), role: RoleT, expires_at: Type.String({ format: 'date-time' }) }) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.invite(actorOf(request), request.body, request.lang)),
  );

  app.post(
    '/api/v1/auth/accept-invite',
    {
      schema: {
        tags: TAGS,
        summary: 'Accept an invitation and sign in',
        body: Type.Object({ token: Type.String({ minLength: 10, maxLength: 200 }), password: Password, full_name: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 201: TokenResponse },
      },
    },
    async (request, reply) => sendSession(reply, await service.acceptInvite(request.body), 201),
  );

  app.get(
    '/api/v1/auth/members',
    {
      config: { auth: { subscription: false } },
      schema: {
        tags: TAGS,
        summary: 'Members of the organisation',
        querystring: Type.Object({ ...PaginationQuery, role: Type.Optional(RoleT), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('deactivated')])) }),
        response: { 200: Paginated(User) },
      },
    },
    async (request) => {
      const { role, status } = request.query;
      return service.members(actorOf(request), { ...(role ? { role } : {}), ...(status ? { status } : {}) }, pageRequest(request.query));
    },
  );

  app.patch(
    '/api/v1/auth/members/:user_id',
    {
      config: { auth: { minRole: 'admin', subscription: false } },
      schema: {
        tags: TAGS,
        summary: "Change a member's role",
        params: Type.Object({ user_id: Type.String({ format: 'uuid' }) }),
        body: Type.Object({ role: RoleT }),
        response: { 200: User },
      },
    },
    async (request) => service.changeRole(actorOf(request), request.params.user_id, request.body.role),
  );

  app.delete(
    '/api/v1/auth/members/:user_id',
    {
      config: { auth: { minRole: 'admin', subscription: false } },
      schema: {
        tags: TAGS,
        summary: 'Deactivate a member',
        description: "Their tokens stop working at once; the knowledge they wrote stays.",
        params: Type.Object({ user_id: Type.String({ format: 'uuid' }) }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await service.deactivate(actorOf(request), request.params.user_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/forgot-password',
    {
      config: { rateLimit: publicLimit },
      schema: { tags: TAGS, summary: 'Start a password reset (always 202)', body: Type.Object({ email: Email }), response: { 202: Type.Object({ status: Type.Literal('accepted') }) } },
    },
    async (request, reply) => {
      await service.forgotPassword(request.body.email);
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/api/v1/auth/reset-password',
    {
      config: { rateLimit: publicLimit },
      schema: {
        tags: TAGS,
        summary: 'Complete a password reset',
        description: 'Single use, valid one hour; ends every session.',
        body: Type.Object({ token: Type.String({ minLength: 10, maxLength: 200 }), password: Password }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await service.resetPassword(request.body);
      return reply.code(204).send(null);
    },
  );
}
