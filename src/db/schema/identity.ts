import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** A company using Tadween: the tenant every other row belongs to. */
export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  plan: text('plan', { enum: ['trial', 'starter', 'growth', 'enterprise'] }).notNull(),
  /** Set while on the trial plan; null means no expiry. */
  trialEndsAt: timestamp('trial_ends_at', { withTimezone: true }),
  subscriptionStatus: text('subscription_status', { enum: ['active', 'inactive'] }).notNull().default('active'),
  defaultLanguage: text('default_language', { enum: ['ar', 'en'] }).notNull().default('ar'),
  timezone: text('timezone').notNull().default('UTC'),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A person in one organisation. Emails are unique across the instance, compared lower-cased. */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    email: text('email').notNull(),
    passwordHash: text('password_hash'),
    fullName: text('full_name').notNull(),
    role: text('role', { enum: ['member', 'manager', 'admin'] }).notNull(),
    isOrgOwner: boolean('is_org_owner').notNull().default(false),
    status: text('status', { enum: ['active', 'deactivated'] }).notNull().default('active'),
    language: text('language', { enum: ['ar', 'en'] }),
    avatarUrl: text('avatar_url'),
    googleSub: text('google_sub'),
    lastLoginAt: timestamp('last_login_at', { withTimezone: true }),
    deactivatedAt: timestamp('deactivated_at', { withTimezone: true }),
    /** Tokens issued before this instant are no longer accepted (password change, reset). */
    tokensValidAfter: timestamp('tokens_valid_after', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('users_email_lower_idx').on(sql`lower(${t.email})`), index('users_org_idx').on(t.orgId, t.createdAt)],
);

/** Access tokens revoked before their expiry (logout), by jti. */
export const revokedTokens = pgTable('revoked_tokens', {
  jti: text('jti').primaryKey(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});
