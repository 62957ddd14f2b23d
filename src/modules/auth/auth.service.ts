import { createHash, randomBytes } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { and, count, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../../config.ts';
import { instanceSettings, invitations, organizations, passwordResets, refreshTokens, revokedTokens, users } from '../../db/schema/index.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import { PLAN_DEFINITIONS, PLANS, roleLevel, type Plan, type Role } from '../../platform/auth/plans.ts';
import { ACCESS_TOKEN_TTL_SECONDS, type TokenService } from '../../platform/auth/tokens.ts';
import type { Db, Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { pageOf, type PageRequest } from '../../platform/http/pagination.ts';
import type { Lang } from '../../platform/i18n/lang.ts';
import type { Outbox } from '../../platform/jobs/outbox.ts';
import { templates, type Mailer } from '../../platform/mail/mailer.ts';

export const AUTH_MODULE_ERRORS = defineErrors({
  EMAIL_TAKEN: { status: 409, en: 'An account with this email already exists.', ar: 'يوجد حساب بهذا البريد الإلكتروني بالفعل.' },
  INVALID_CREDENTIALS: { status: 401, en: 'The email or password is incorrect.', ar: 'البريد الإلكتروني أو كلمة المرور غير صحيحة.' },
  REFRESH_INVALID: { status: 401, en: 'The session has ended; sign in again.', ar: 'انتهت الجلسة؛ سجّل الدخول من جديد.' },
  INVITE_INVALID: { status: 400, en: 'This invitation is invalid, already used or expired.', ar: 'هذه الدعوة غير صالحة أو مستخدمة أو منتهية الصلاحية.' },
  RESET_INVALID: { status: 400, en: 'This reset link is invalid, already used or expired.', ar: 'رابط إعادة التعيين غير صالح أو مستخدم أو منتهي الصلاحية.' },
  PLAN_LIMIT_REACHED: {
    status: 403,
    en: 'The plan allows {limit} members; upgrade to {required_plan} for more.',
    ar: 'تسمح الباقة بـ {limit} عضوًا؛ رقِّ الاشتراك إلى {required_plan} للمزيد.',
  },
  CANNOT_CHANGE_OWN_ROLE: { status: 403, en: 'You cannot change your own role.', ar: 'لا يمكنك تغيير دورك بنفسك.' },
  OWNER_IS_FIXED: { status: 403, en: "The organisation owner's role and membership cannot be changed.", ar: 'لا يمكن تغيير دور مالك المؤسسة أو عضويته.' },
  CURRENT_PASSWORD_INVALID: { status: 403, en: 'The current password is incorrect.', ar: 'كلمة المرور الحالية غير صحيحة.' },
  GOOGLE_NOT_CONFIGURED: { status: 400, en: 'Google sign-in is not configured on this instance.', ar: 'تسجيل الدخول عبر Google غير مُعدّ على هذه النسخة.' },
  GOOGLE_TOKEN_INVALID: { status: 401, en: 'The Google ID token is invalid.', ar: 'رمز Google غير صالح.' },
  SIGNUP_DISABLED: { status: 403, en: 'Sign-up is closed for this email address.', ar: 'التسجيل مغلق لهذا البريد الإلكتروني.' },
});

const REFRESH_TTL_MS = 30 * 86400_000;
const INVITE_TTL_MS = 7 * 86400_000;
const RESET_TTL_MS = 3600_000;
const TRIAL_DAYS = 14;

/** SHA-256 of a bearer secret, as stored. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The instant from which tokens are valid again: the next whole second, since iat has whole seconds. */
function cutoff(): Date {
  return new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
}

function secret(): string {
  return randomBytes(32).toString('base64url');
}

type UserRow = typeof users.$inferSelect;
type OrgRow = typeof organizations.$inferSelect;

/** A person as the API shows them. */
export function presentUser(u: UserRow) {
  return {
    id: u.id,
    email: u.email,
    full_name: u.fullName,
    role: u.role,
    is_org_owner: u.isOrgOwner,
    status: u.status,
    language: u.language,
    avatar_url: u.avatarUrl,
    org_id: u.orgId,
    created_at: u.createdAt.toISOString(),
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
  };
}

/** An organisation as the API shows it. */
export function presentOrg(o: OrgRow) {
  return {
    id: o.id,
    name: o.name,
    plan: o.plan,
    trial_ends_at: o.trialEndsAt?.toISOString() ?? null,
    subscription_status: o.subscriptionStatus,
    default_language: o.defaultLanguage,
    timezone: o.timezone,
    created_at: o.createdAt.toISOString(),
  };
}

/** What signing in produces: the body fields and the refresh token for the cookie. */
export interface Session {
  body: { access_token: string; token_type: 'Bearer'; expires_in: number; user: ReturnType<typeof presentUser>; organization: ReturnType<typeof presentOrg> };
  refreshToken: string;
}

/** The signup rules an operator sets for the instance. */
export interface SignupSettings {
  signup_enabled: boolean;
  allowed_email_domains: string[];
}

/** Reads the instance's signup rules (open to all by default). */
export async function signupSettings(db: Db): Promise<SignupSettings> {
  const [row] = await db.select().from(instanceSettings).where(eq(instanceSettings.key, 'signup'));
  const v = (row?.value ?? {}) as Partial<SignupSettings>;
  return { signup_enabled: v.signup_enabled ?? true, allowed_email_domains: v.allowed_email_domains ?? [] };
}

/** Sign-up, sign-in, sessions, invitations, members and password resets. */
export class AuthService {
  private dummyHash?: Promise<string>;
  private googleKeys?: JWTVerifyGetKey;

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenService,
    private readonly mailer: Mailer,
    private readonly outbox: Outbox,
    private readonly config: Config,
  ) {}

  /** Hashes a password with argon2id. */
  hashPassword(password: string): Promise<string> {
    return argonHash(password);
  }

  /** Verifies a password; with no hash, spends the same time on a dummy one so timing tells nothing. */
  async verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
    if (!hash) {
      this.dummyHash ??= argonHash(secret());
      await argonVerify(await this.dummyHash, password).catch(() => false);
      return false;
    }
    return argonVerify(hash, password).catch(() => false);
  }

  private async assertSignupAllowed(email: string): Promise<void> {
    const s = await signupSettings(this.db);
    const domain = email.split('@')[1]?.toLowerCase() ?? '';
    if (!s.signup_enabled || (s.allowed_email_domains.length > 0 && !s.allowed_email_domains.map((d) => d.toLowerCase()).includes(domain))) {
      throw new AppError('SIGNUP_DISABLED');
    }
  }

  private async emailTaken(email: string, tx: Db = this.db): Promise<boolean> {
    const [row] = await tx.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = ${email.toLowerCase()}`);
    return !!row;
  }

  /** Creates an organisation with its owner, on the instance's default plan. */
  async register(input: { email: string; password: string; full_name: string; organization_name: string; language?: Lang }): Promise<Session> {
    const email = input.email.trim().toLowerCase();
    await this.assertSignupAllowed(email);
    if (await this.emailTaken(email)) throw new AppError('EMAIL_TAKEN');
    const passwordHash = await this.hashPassword(input.password);
    return this.createOrgWithOwner({ email, passwordHash, fullName: input.full_name, orgName: input.organization_name, language: input.language });
  }

  private async createOrgWithOwner(p: { email: string; passwordHash: string | null; fullName: string; orgName: string; language?: Lang; googleSub?: string }): Promise<Session> {
    const plan = this.config.defaultPlan;
    const orgId = newId();
    const userId = newId();
    try {
      await this.db.transaction(async (tx) => {
        await tx.insert(organizations).values({
          id: orgId,
          name: p.orgName,
          plan,
          trialEndsAt: plan === 'trial' ? new Date(Date.now() + TRIAL_DAYS * 86400_000) : null,
          defaultLanguage: p.language ?? 'ar',
        });
        await tx.insert(users).values({
          id: userId,
          orgId,
          email: p.email,
          passwordHash: p.passwordHash,
          fullName: p.fullName,
          role: 'admin',
          isOrgOwner: true,
          language: p.language ?? null,
          googleSub: p.googleSub ?? null,
          lastLoginAt: new Date(),
        });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('EMAIL_TAKEN');
      throw err;
    }
    return this.startSession(userId);
  }

  /** Signs in with email and password. */
  async login(input: { email: string; password: string }): Promise<Session> {
    const email = input.email.trim().toLowerCase();
    const [user] = await this.db.select().from(users).where(sql`lower(${users.email}) = ${email}`);
    const ok = await this.verifyPassword(user?.passwordHash, input.password);
    if (!user || !ok) throw new AppError('INVALID_CREDENTIALS');
    if (user.status !== 'active') throw new AppError('ACCOUNT_DEACTIVATED');
    await this.db.update(users).set({ lastLoginAt: new Date() }).where(eq(users.id, user.id));
    return this.startSession(user.id);
  }

  /** Issues an access token and a new refresh-token family for a person. */
  async startSession(userId: string, familyId: string = newId(), tx: Db = this.db): Promise<Session> {
    const [row] = await tx.select({ user: users, org: organizations }).from(users).innerJoin(organizations, eq(organizations.id, users.orgId)).where(eq(users.id, userId));
    if (!row) throw new AppError('INVALID_CREDENTIALS');
    const { user, org } = row;
    // Tokens carry whole-second iat; one issued before the cut-off second would be refused.
    const wait = (user.tokensValidAfter?.getTime() ?? 0) - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 5));
    const access = await this.tokens.signAccess({ sub: user.id, role: user.role, email: user.email, org_id: org.id, org_plan: org.plan, is_org_owner: user.isOrgOwner });
    const refreshToken = secret();
    await tx.insert(refreshTokens).values({ id: newId(), userId: user.id, orgId: org.id, familyId, tokenHash: tokenHash(refreshToken), expiresAt: new Date(Date.now() + REFRESH_TTL_MS) });
    return {
      body: { access_token: access.token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SECONDS, user: presentUser(user), organization: presentOrg(org) },
      refreshToken,
    };
  }

  /** Rotates a refresh token; presenting one already rotated revokes its whole family. */
  async refresh(raw: string | undefined): Promise<Session> {
    if (!raw) throw new AppError('REFRESH_INVALID');
    const h = tokenHash(raw);
    const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, h));
    if (!row || row.revokedAt || row.expiresAt.getTime() < Date.now()) throw new AppError('REFRESH_INVALID');
    if (row.rotatedAt) {
      // Reuse of a rotated token: someone holds a stolen copy. End the whole family.
      await this.revokeFamily(row.familyId);
      throw new AppError('REFRESH_INVALID', { reason: 'reused' });
    }
    const [user] = await this.db.select().from(users).where(eq(users.id, row.userId));
    if (!user || user.status !== 'active') throw new AppError('REFRESH_INVALID');
    return this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      // Only one of two concurrent refreshes with the same token can rotate it.
      const rotated = await tx
        .update(refreshTokens)
        .set({ rotatedAt: new Date() })
        .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.rotatedAt)))
        .returning({ id: refreshTokens.id });
      if (rotated.length === 0) throw new AppError('REFRESH_INVALID');
      return this.startSession(row.userId, row.familyId, tx);
    });
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await this.db.update(refreshTokens).set({ revokedAt: new Date() }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
  }

  /** Revokes the caller's access token (until it expires) and the refresh family of the cookie. */
  async logout(actor: Actor, rawRefresh: string | undefined): Promise<void> {
    if (actor.jti && actor.tokenExpiresAt) {
      await this.db.insert(revokedTokens).values({ jti: actor.jti, expiresAt: actor.tokenExpiresAt }).onConflictDoNothing();
    }
    if (rawRefresh) {
      const [row] = await this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash(rawRefresh)));
      if (row && row.userId === actor.userId) await this.revokeFamily(row.familyId);
    }
  }

  /** The caller with their organisation. */
  async me(actor: Actor) {
    const [row] = await this.db.select({ user: users, org: organizations }).from(users).innerJoin(organizations, eq(organizations.id, users.orgId)).where(eq(users.id, actor.userId!));
    if (!row) throw new AppError('NOT_FOUND');
    return { ...presentUser(row.user), organization: presentOrg(row.org) };
  }

  /**
   * Updates the caller's profile. A password change needs the current password and ends every other
   * session; the caller gets a fresh session in return.
   */
  async updateMe(
    actor: Actor,
    input: { full_name?: string; language?: Lang; avatar_url?: string | null; password?: string; current_password?: string },
  ): Promise<{ profile: Awaited<ReturnType<AuthService['me']>>; session?: Session }> {
    const [user] = await this.db.select().from(users).where(eq(users.id, actor.userId!));
    if (!user) throw new AppError('NOT_FOUND');
    const set: Partial<typeof users.$inferInsert> = { updatedAt: new Date() };
    if (input.full_name !== undefined) set.fullName = input.full_name;
    if (input.language !== undefined) set.language = input.language;
    if (input.avatar_url !== undefined) set.avatarUrl = input.avatar_url;
    let session: Session | undefined;
    if (input.password !== undefined) {
      if (!input.current_password) throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'current_password', reason: 'is required to change the password' }] });
      if (!(await this.verifyPassword(user.passwordHash, input.current_password))) throw new AppError('CURRENT_PASSWORD_INVALID');
      set.passwordHash = await this.hashPassword(input.password);
      set.tokensValidAfter = cutoff();
    }
    await this.db.update(users).set(set).where(eq(users.id, user.id));
    if (set.passwordHash) {
      await this.db.update(refreshTokens).set({ revokedAt: new Date() }).where(and(eq(refreshTokens.userId, user.id), isNull(refreshTokens.revokedAt)));
      session = await this.startSession(user.id);
    }
    return { profile: await this.me(actor), ...(session ? { session } : {}) };
  }

  private async seatCheck(orgId: string, plan: Plan, tx: Db = this.db): Promise<void> {
    const limit = PLAN_DEFINITIONS[plan].user_limit;
    if (limit === null) return;
    const [active] = await tx.select({ n: count() }).from(users).where(and(eq(users.orgId, orgId), eq(users.status, 'active')));
    const [pending] = await tx
      .select({ n: count() })
      .from(invitations)
      .where(and(eq(invitations.orgId, orgId), isNull(invitations.acceptedAt), gt(invitations.expiresAt, new Date())));
    if ((active?.n ?? 0) + (pending?.n ?? 0) >= limit) {
      const required = PLANS.find((p) => {
        const l = PLAN_DEFINITIONS[p].user_limit;
        return l === null || l > limit;
      });
      throw new AppError('PLAN_LIMIT_REACHED', { limit, required_plan: required ?? 'enterprise' });
    }
  }

  /** Invites someone by email; the token goes only into the email. */
  async invite(actor: Actor, input: { email: string; role: Role }, lang: Lang) {
    const effective: Role = actor.isOrgOwner ? 'admin' : actor.role;
    if (roleLevel(input.role) > roleLevel(effective)) throw new AppError('INSUFFICIENT_ROLE', { required_role: input.role });
    const email = input.email.trim().toLowerCase();
    if (await this.emailTaken(email)) throw new AppError('EMAIL_TAKEN');
    await this.seatCheck(actor.orgId, actor.plan);
    const token = secret();
    const id = newId();
    const expiresAt = new Date(Date.now() + INVITE_TTL_MS);
    const [org] = await this.db.select().from(organizations).where(eq(organizations.id, actor.orgId));
    const [inviter] = await this.db.select().from(users).where(eq(users.id, actor.userId!));
    await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      await tx.insert(invitations).values({ id, orgId: actor.orgId, email, role: input.role, tokenHash: tokenHash(token), invitedBy: actor.userId!, expiresAt });
      await this.outbox.publish(tx, {
        orgId: actor.orgId,
        aggregateType: 'member',
        aggregateId: id,
        type: 'member.invited',
        payload: { invitation_id: id, email, role: input.role, invited_by: actor.userId, expires_at: expiresAt.toISOString() },
      });
    });
    this.outbox.poke();
    const mailLang = (org?.defaultLanguage ?? lang) as Lang;
    const msg = templates.invitation(mailLang, { orgName: org?.name ?? '', inviter: inviter?.fullName ?? '', link: `${this.config.publicUrl}/accept-invite?token=${token}`, days: 7 });
    await this.mailer.send({ to: email, ...msg, kind: 'invitation', language: mailLang, orgId: actor.orgId });
    return { id, email, role: input.role, expires_at: expiresAt.toISOString() };
  }

  /** Accepts an invitation: creates the person and signs them in. */
  async acceptInvite(input: { token: string; password: string; full_name: string }): Promise<Session> {
    const [inv] = await this.db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash(input.token)));
    if (!inv || inv.acceptedAt || inv.expiresAt.getTime() < Date.now()) throw new AppError('INVITE_INVALID');
    if (await this.emailTaken(inv.email)) throw new AppError('EMAIL_TAKEN');
    const passwordHash = await this.hashPassword(input.password);
    const userId = newId();
    try {
      await this.db.transaction(async (t) => {
        const tx = t as unknown as Tx;
        const claimed = await tx
          .update(invitations)
          .set({ acceptedAt: new Date() })
          .where(and(eq(invitations.id, inv.id), isNull(invitations.acceptedAt)))
          .returning({ id: invitations.id });
        if (claimed.length === 0) throw new AppError('INVITE_INVALID');
        const [org] = await tx.select().from(organizations).where(eq(organizations.id, inv.orgId));
        // The accepted invitation no longer counts as pending; the seat check sees the others.
        await this.seatCheck(inv.orgId, org!.plan, tx);
        await tx.insert(users).values({ id: userId, orgId: inv.orgId, email: inv.email, passwordHash, fullName: input.full_name, role: inv.role, lastLoginAt: new Date() });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('EMAIL_TAKEN');
      throw err;
    }
    return this.startSession(userId);
  }

  /** Members of the caller's organisation. */
  async members(actor: Actor, f: { role?: Role; status?: 'active' | 'deactivated' }, page: PageRequest) {
    const where = and(eq(users.orgId, actor.orgId), f.role ? eq(users.role, f.role) : undefined, f.status ? eq(users.status, f.status) : undefined);
    const [rows, [total]] = await Promise.all([
      this.db.select().from(users).where(where).orderBy(desc(users.createdAt), desc(users.id)).limit(page.limit).offset(page.offset),
      this.db.select({ n: count() }).from(users).where(where),
    ]);
    return pageOf(rows.map(presentUser), total?.n ?? 0, page);
  }

  private async memberOf(actor: Actor, userId: string): Promise<UserRow> {
    const [u] = await this.db.select().from(users).where(and(eq(users.id, userId), eq(users.orgId, actor.orgId)));
    if (!u) throw new AppError('NOT_FOUND', { resource: 'member' });
    return u;
  }

  /** Changes a member's role (not one's own, not the owner's). */
  async changeRole(actor: Actor, userId: string, role: Role) {
    const u = await this.memberOf(actor, userId);
    if (u.id === actor.userId) throw new AppError('CANNOT_CHANGE_OWN_ROLE');
    if (u.isOrgOwner) throw new AppError('OWNER_IS_FIXED');
    const [row] = await this.db.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, u.id)).returning();
    return presentUser(row!);
  }

  /** Deactivates a member: their sessions end at once; what they wrote stays. */
  async deactivate(actor: Actor, userId: string): Promise<void> {
    const u = await this.memberOf(actor, userId);
    if (u.isOrgOwner) throw new AppError('OWNER_IS_FIXED');
    if (u.id === actor.userId) throw new AppError('CANNOT_CHANGE_OWN_ROLE');
    await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      await tx.update(users).set({ status: 'deactivated', deactivatedAt: new Date(), updatedAt: new Date() }).where(eq(users.id, u.id));
      await tx.update(refreshTokens).set({ revokedAt: new Date() }).where(and(eq(refreshTokens.userId, u.id), isNull(refreshTokens.revokedAt)));
      await this.outbox.publish(tx, {
        orgId: actor.orgId,
        aggregateType: 'member',
        aggregateId: u.id,
        type: 'member.removed',
        payload: { user_id: u.id, email: u.email, removed_by: actor.userId },
      });
    });
    this.outbox.poke();
  }

  /** Starts a password reset; says nothing about whether the email exists. */
  async forgotPassword(email: string): Promise<void> {
    const [user] = await this.db.select().from(users).where(sql`lower(${users.email}) = ${email.trim().toLowerCase()}`);
    if (!user || user.status !== 'active') return;
    const token = secret();
    await this.db.insert(passwordResets).values({ id: newId(), userId: user.id, tokenHash: tokenHash(token), expiresAt: new Date(Date.now() + RESET_TTL_MS) });
    const [org] = await this.db.select().from(organizations).where(eq(organizations.id, user.orgId));
    const lang = (user.language ?? org?.defaultLanguage ?? 'en') as Lang;
    const msg = templates.passwordReset(lang, { link: `${this.config.publicUrl}/reset-password?token=${token}` });
    await this.mailer.send({ to: user.email, ...msg, kind: 'password_reset', language: lang, orgId: user.orgId });
  }

  /** Completes a reset: new password, token used, every session ended. */
  async resetPassword(input: { token: string; password: string }): Promise<void> {
    const [row] = await this.db.select().from(passwordResets).where(eq(passwordResets.tokenHash, tokenHash(input.token)));
    if (!row || row.usedAt || row.expiresAt.getTime() < Date.now()) throw new AppError('RESET_INVALID');
    const passwordHash = await this.hashPassword(input.password);
    await this.db.transaction(async (t) => {
      const tx = t as unknown as Tx;
      const used = await tx
        .update(passwordResets)
        .set({ usedAt: new Date() })
        .where(and(eq(passwordResets.id, row.id), isNull(passwordResets.usedAt)))
        .returning({ id: passwordResets.id });
      if (used.length === 0) throw new AppError('RESET_INVALID');
      await tx.update(users).set({ passwordHash, tokensValidAfter: cutoff(), updatedAt: new Date() }).where(eq(users.id, row.userId));
      await tx.update(refreshTokens).set({ revokedAt: new Date() }).where(and(eq(refreshTokens.userId, row.userId), isNull(refreshTokens.revokedAt)));
    });
  }

  /** Signs in (or registers) with a verified Google ID token; `created` tells which. */
  async google(idToken: string): Promise<{ session: Session; created: boolean }> {
    const clientId = this.config.google.clientId;
    if (!clientId) throw new AppError('GOOGLE_NOT_CONFIGURED');
    this.googleKeys ??= createRemoteJWKSet(new URL(this.config.google.jwksUrl), { timeoutDuration: 5000 });
    let claims: { sub?: string; email?: string; email_verified?: boolean; name?: string };
    try {
      const { payload } = await jwtVerify(idToken, this.googleKeys, { issuer: ['https://accounts.google.com', 'accounts.google.com'], audience: clientId });
      claims = payload as typeof claims;
    } catch {
      throw new AppError('GOOGLE_TOKEN_INVALID');
    }
    if (!claims.email || claims.email_verified !== true || !claims.sub) throw new AppError('GOOGLE_TOKEN_INVALID', { reason: 'email not verified' });
    const email = claims.email.toLowerCase();
    const [user] = await this.db.select().from(users).where(sql`lower(${users.email}) = ${email}`);
    if (user) {
      if (user.status !== 'active') throw new AppError('ACCOUNT_DEACTIVATED');
      await this.db.update(users).set({ lastLoginAt: new Date(), googleSub: user.googleSub ?? claims.sub }).where(eq(users.id, user.id));
      return { session: await this.startSession(user.id), created: false };
    }
    await this.assertSignupAllowed(email);
    const name = claims.name ?? email.split('@')[0]!;
    const session = await this.createOrgWithOwner({ email, passwordHash: null, fullName: name, orgName: name, googleSub: claims.sub });
    return { session, created: true };
  }

  /** Deletes revoked-token rows whose tokens have expired anyway. */
  async pruneRevoked(): Promise<void> {
    await this.db.delete(revokedTokens).where(sql`${revokedTokens.expiresAt} < now()`);
  }
}

/** Whether a database error is a unique-constraint violation (SQLSTATE 23505), whichever driver raised it. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '23505') return true;
  }
  return false;
}

