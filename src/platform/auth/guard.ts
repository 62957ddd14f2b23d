import { and, eq, gt, sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { organizations, revokedTokens, users } from '../../db/schema/index.ts';
import type { Db } from '../db/client.ts';
import { AppError, defineErrors } from '../http/errors.ts';
import type { Lang } from '../i18n/lang.ts';
import { PLAN_DEFINITIONS, planRank, roleLevel, type Plan, type Role } from './plans.ts';
import { ORG_AUDIENCE, type TokenService, type VerifiedAccess } from './tokens.ts';

export const AUTH_ERRORS = defineErrors({
  TOKEN_INVALID: { status: 401, en: 'The access token is invalid.', ar: 'رمز الوصول غير صالح.' },
  TOKEN_EXPIRED: { status: 401, en: 'The access token has expired.', ar: 'انتهت صلاحية رمز الوصول.' },
  TOKEN_REVOKED: { status: 401, en: 'The access token has been revoked.', ar: 'أُلغي رمز الوصول.' },
  ACCOUNT_DEACTIVATED: { status: 403, en: 'This account has been deactivated.', ar: 'تم تعطيل هذا الحساب.' },
  INSUFFICIENT_ROLE: { status: 403, en: 'This action needs the {required_role} role.', ar: 'يتطلب هذا الإجراء دور {required_role}.' },
  OWNER_REQUIRED: { status: 403, en: 'Only the organisation owner may do this.', ar: 'لا يملك هذا الإجراء إلا مالك المؤسسة.' },
  PLAN_UPGRADE_REQUIRED: {
    status: 403,
    en: 'The {feature} feature needs the {required_plan} plan or higher.',
    ar: 'تتطلب ميزة {feature} الباقة {required_plan} أو أعلى.',
  },
  SUBSCRIPTION_REQUIRED: {
    status: 402,
    en: 'The subscription of this organisation is not active (the trial may have ended).',
    ar: 'اشتراك هذه المؤسسة غير نشط (ربما انتهت الفترة التجريبية).',
  },
  INSUFFICIENT_SCOPE: { status: 403, en: 'This key lacks the {required_scope} scope.', ar: 'لا يملك هذا المفتاح صلاحية {required_scope}.' },
});

export type AuthMethod = 'jwt' | 'api_key';

/** Who is acting, resolved from whatever credential the request carried. */
export interface Actor {
  orgId: string;
  userId?: string;
  role: Role;
  plan: Plan;
  isOrgOwner: boolean;
  email?: string;
  scopes?: string[];
  authMethod: AuthMethod;
  /** Access-token id and expiry (JWT only), for logout. */
  jti?: string;
  tokenExpiresAt?: Date;
  /** Api key id (api_key only). */
  apiKeyId?: string;
  language?: Lang;
  /** False when the trial has ended or the subscription is inactive (402 on guarded routes). */
  subscriptionActive: boolean;
}

/** What a route requires of its caller; declared in the route's `config.auth`. */
export interface RouteAuth {
  /** Credentials accepted; default ['jwt']. */
  methods?: AuthMethod[];
  minRole?: Role;
  /** Only the organisation owner (billing). */
  ownerOnly?: boolean;
  minPlan?: Plan;
  /** Feature name reported with PLAN_UPGRADE_REQUIRED. */
  feature?: string;
  /** API-key scopes needed (any one of them suffices when `anyScope`). */
  scopes?: string[];
  /** Whether an inactive subscription blocks the route (402); default true. */
  subscription?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    actor?: Actor;
  }
}

/** Resolves an API key (or another non-JWT bearer credential) to an actor, or undefined if not its kind. */
export type BearerAuthenticator = (token: string, request: FastifyRequest) => Promise<Actor | undefined>;

/** The route guard: authentication, revocation, role, plan, feature, scope and subscription checks. */
export class Guard {
  private readonly authenticators: Array<{ method: AuthMethod; matches(token: string): boolean; authenticate: BearerAuthenticator }> = [];
  /**
   * What the guard needs of an access token's person and organisation, and whether it was revoked, read
   * on every authenticated request: built once (building the query cost more than running it).
   */
  private readonly actorRow;

  constructor(
    db: Db,
    private readonly tokens: TokenService,
  ) {
    this.actorRow = db
      .select({
        user: { id: users.id, orgId: users.orgId, role: users.role, status: users.status, isOrgOwner: users.isOrgOwner, email: users.email, language: users.language, tokensValidAfter: users.tokensValidAfter },
        org: { id: organizations.id, plan: organizations.plan, defaultLanguage: organizations.defaultLanguage, trialEndsAt: organizations.trialEndsAt, subscriptionStatus: organizations.subscriptionStatus },
        revoked: revokedTokens.jti,
      })
      .from(users)
      .innerJoin(organizations, eq(organizations.id, users.orgId))
      .leftJoin(revokedTokens, and(eq(revokedTokens.jti, sql.placeholder('jti')), gt(revokedTokens.expiresAt, sql`now()`)))
      .where(eq(users.id, sql.placeholder('sub')))
      .prepare('guard_actor');
  }

  /** Adds a credential type (API keys register here), tried before JWT when `matches` says so. */
  addAuthenticator(method: AuthMethod, matches: (token: string) => boolean, authenticate: BearerAuthenticator): void {
    this.authenticators.push({ method, matches, authenticate });
  }

  /** Installs the onRequest hook that enforces `config.auth` on every route that declares it. */
  install(app: FastifyInstance): void {
    app.decorateRequest('actor', undefined);
    app.addHook('onRoute', (route: RouteOptions) => {
      const auth = (route.config as { auth?: RouteAuth } | undefined)?.auth;
      if (auth && route.schema) {
        (route.schema as Record<string, unknown>).security = [{ bearer: [] }];
      }
    });
    app.addHook('onRequest', async (request) => {
      const auth = request.routeOptions.config?.auth;
      if (!auth) return;
      request.actor = await this.authenticate(request, auth);
      this.authorize(request.actor, auth);
    });
  }

  /** Resolves the bearer credential of `request` into a current actor (fresh role, plan and status). */
  async authenticate(request: FastifyRequest, auth: RouteAuth): Promise<Actor> {
    const h = request.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    if (!m) throw new AppError('UNAUTHORIZED', {}, {}, { 'www-authenticate': 'Bearer' });
    const token = m[1]!;
    const methods = auth.methods ?? ['jwt'];
    for (const a of this.authenticators) {
      if (!a.matches(token)) continue;
      if (!methods.includes(a.method)) throw new AppError('UNAUTHORIZED', { reason: `${a.method} credentials are not accepted here` });
      const actor = await a.authenticate(token, request);
      if (!actor) throw new AppError('UNAUTHORIZED');
      return actor;
    }
    if (!methods.includes('jwt')) throw new AppError('UNAUTHORIZED');
    return this.actorFromAccessToken(token, request);
  }

  /** Verifies an access token and reloads the person and organisation it names. */
  async actorFromAccessToken(token: string, request?: FastifyRequest): Promise<Actor> {
    const claims = await this.tokens.verify<VerifiedAccess>(token, ORG_AUDIENCE);
    const [row] = await this.actorRow.execute({ sub: claims.sub, jti: claims.jti });
    if (!row || row.user.orgId !== claims.org_id) throw new AppError('TOKEN_INVALID');
    if (row.revoked) throw new AppError('TOKEN_REVOKED');
    if (row.user.status !== 'active') throw new AppError('TOKEN_REVOKED', { reason: 'account deactivated' });
    if (row.user.tokensValidAfter && claims.iat * 1000 < row.user.tokensValidAfter.getTime()) throw new AppError('TOKEN_REVOKED');
    const language = (row.user.language ?? row.org.defaultLanguage) as Lang;
    if (request) request.preferredLang = language;
    return {
      orgId: row.org.id,
      userId: row.user.id,
      role: row.user.role,
      plan: row.org.plan,
      isOrgOwner: row.user.isOrgOwner,
      email: row.user.email,
      authMethod: 'jwt',
      jti: claims.jti,
      tokenExpiresAt: new Date(claims.exp * 1000),
      language,
      subscriptionActive: subscriptionActive(row.org),
    };
  }

  /** Applies the route's role, owner, plan, scope and subscription requirements to `actor`. */
  authorize(actor: Actor, auth: RouteAuth): void {
    if (auth.subscription !== false && !actor.subscriptionActive) {
      throw new AppError('SUBSCRIPTION_REQUIRED');
    }
    if (auth.ownerOnly && !actor.isOrgOwner) throw new AppError('OWNER_REQUIRED');
    const effectiveRole: Role = actor.isOrgOwner ? 'admin' : actor.role;
    if (auth.minRole && roleLevel(effectiveRole) < roleLevel(auth.minRole)) {
      throw new AppError('INSUFFICIENT_ROLE', { required_role: auth.minRole });
    }
    if (auth.minPlan && planRank(actor.plan) < planRank(auth.minPlan)) {
      throw new AppError('PLAN_UPGRADE_REQUIRED', { required_plan: auth.minPlan, feature: auth.feature ?? 'this' });
    }
    if (auth.feature && !auth.minPlan && !PLAN_DEFINITIONS[actor.plan].features.includes(auth.feature)) {
      const required = (['trial', 'starter', 'growth', 'enterprise'] as const).find((p) => PLAN_DEFINITIONS[p].features.includes(auth.feature!));
      throw new AppError('PLAN_UPGRADE_REQUIRED', { required_plan: required ?? 'enterprise', feature: auth.feature });
    }
    if (auth.scopes && actor.authMethod === 'api_key') {
      const have = new Set(actor.scopes ?? []);
      const missing = auth.scopes.find((s) => !have.has(s));
      if (missing) throw new AppError('INSUFFICIENT_SCOPE', { required_scope: missing });
    }
  }
}

/** Whether an organisation may use the product now: an unexpired trial or an active subscription. */
export function subscriptionActive(org: { plan: Plan; trialEndsAt: Date | null; subscriptionStatus: 'active' | 'inactive' }): boolean {
  if (org.subscriptionStatus !== 'active') return false;
  if (org.plan === 'trial' && org.trialEndsAt && org.trialEndsAt.getTime() < Date.now()) return false;
  return true;
}

/** The actor of an authenticated route (routes with `config.auth` always have one). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AppError('UNAUTHORIZED');
  return request.actor;
}
