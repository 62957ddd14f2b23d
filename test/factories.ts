import { randomBytes } from 'node:crypto';
import { organizations, users } from '../src/db/schema/index.ts';
import { newId } from '../src/platform/db/ids.ts';
import type { Plan, Role } from '../src/platform/auth/plans.ts';
import type { TestApp } from './harness.ts';

export interface TestUser {
  id: string;
  orgId: string;
  email: string;
  role: Role;
  token: string;
  headers: { authorization: string };
}

export interface TestOrg {
  id: string;
  plan: Plan;
  owner: TestUser;
}

/** A fresh organisation with an owner (admin), straight into the database; no HTTP involved. */
export async function createOrg(
  t: TestApp,
  opts: { plan?: Plan; trialEndsAt?: Date | null; subscriptionStatus?: 'active' | 'inactive'; name?: string; language?: 'ar' | 'en' } = {},
): Promise<TestOrg> {
  const id = newId();
  const plan = opts.plan ?? 'growth';
  await t.deps.database.db.insert(organizations).values({
    id,
    name: opts.name ?? `Org ${id.slice(-6)}`,
    plan,
    trialEndsAt: opts.trialEndsAt === undefined ? (plan === 'trial' ? new Date(Date.now() + 14 * 86400_000) : null) : opts.trialEndsAt,
    subscriptionStatus: opts.subscriptionStatus ?? 'active',
    defaultLanguage: opts.language ?? 'en',
  });
  const owner = await addUser(t, { id, plan }, { role: 'admin', isOrgOwner: true });
  return { id, plan, owner };
}

/** Adds a person to an organisation and signs an access token for them. */
export async function addUser(
  t: TestApp,
  org: { id: string; plan: Plan },
  opts: { role?: Role; isOrgOwner?: boolean; email?: string; fullName?: string } = {},
): Promise<TestUser> {
  const id = newId();
  const role = opts.role ?? 'member';
  const email = opts.email ?? `user-${randomBytes(5).toString('hex')}@example.test`;
  await t.deps.database.db.insert(users).values({
    id,
    orgId: org.id,
    email,
    fullName: opts.fullName ?? `User ${id.slice(-6)}`,
    role,
    isOrgOwner: opts.isOrgOwner ?? false,
  });
  const { token } = await t.deps.tokens.signAccess({ sub: id, role, email, org_id: org.id, org_plan: org.plan, is_org_owner: opts.isOrgOwner ?? false });
  return { id, orgId: org.id, email, role, token, headers: { authorization: `Bearer ${token}` } };
}

/** Creates a knowledge entry through the API as `user`; anything but 201 fails the test with the response. */
export async function createEntry(t: TestApp, user: TestUser, title: string, content: string, extra: Record<string, unknown> = {}): Promise<{ id: string; version: number }> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers: user.headers, payload: { title, content, ...extra } });
  if (res.statusCode !== 201) throw new Error(`creating entry "${title}" answered ${res.statusCode}: ${res.body}`);
  return res.json() as { id: string; version: number };
}
