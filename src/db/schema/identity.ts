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

/** Refresh tokens, stored only as hashes, in families that rotation extends and reuse revokes. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id').notNull(),
    orgId: uuid('org_id').notNull(),
    familyId: uuid('family_id').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('refresh_tokens_family_idx').on(t.familyId), index('refresh_tokens_user_idx').on(t.userId)],
);

/** Invitations to join an organisation; the token travels only by email and is stored hashed. */
export const invitations = pgTable(
  'invitations',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    email: text('email').notNull(),
    role: text('role', { enum: ['member', 'manager', 'admin'] }).notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    invitedBy: uuid('invited_by').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('invitations_org_idx').on(t.orgId, t.createdAt)],
);

/** Password-reset tokens (hashed, one hour, single use). */
export const passwordResets = pgTable('password_resets', {
  id: uuid('id').primaryKey(),
  userId: uuid('user_id').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  usedAt: timestamp('used_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Outgoing mail: sent by SMTP when configured, otherwise kept here for an operator to read. */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id'),
    to: text('to').notNull(),
    subject: text('subject').notNull(),
    body: text('body').notNull(),
    kind: text('kind').notNull(),
    language: text('language').notNull(),
    status: text('status', { enum: ['stored', 'sent', 'failed'] }).notNull(),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('mail_outbox_to_idx').on(t.to, t.createdAt)],
);

/** Places an organisation works in (sites, plants, branches). */
export const locations = pgTable(
  'locations',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    name: text('name').notNull(),
    nameAr: text('name_ar'),
    address: text('address'),
    timezone: text('timezone'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('locations_org_idx').on(t.orgId, t.name)],
);

/** An organisation's own LLM credentials (BYOK); the key is sealed and never returned. */
export const orgByok = pgTable('org_byok', {
  orgId: uuid('org_id').primaryKey(),
  provider: text('provider', { enum: ['openai-compatible', 'anthropic'] }).notNull(),
  apiKeySealed: text('api_key_sealed').notNull(),
  apiKeyLast4: text('api_key_last4').notNull(),
  baseUrl: text('base_url'),
  model: text('model').notNull(),
  updatedBy: uuid('updated_by'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Instance-wide settings kept by the operator (sign-up rules). */
export const instanceSettings = pgTable('instance_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Operators of a self-hosted instance; they see organisations, not their data. */
export const instanceAdmins = pgTable('instance_admins', {
  id: uuid('id').primaryKey(),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** An organisation's single sign-on configuration (OIDC issuer or SAML IdP); secrets sealed. */
export const orgSso = pgTable('org_sso', {
  orgId: uuid('org_id').primaryKey(),
  type: text('type', { enum: ['oidc', 'saml'] }).notNull(),
  issuer: text('issuer'),
  clientId: text('client_id'),
  clientSecretSealed: text('client_secret_sealed'),
  metadataXml: text('metadata_xml'),
  metadataUrl: text('metadata_url'),
  updatedBy: uuid('updated_by'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
