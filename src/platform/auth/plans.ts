import { PLANS, type Plan } from '../../config.ts';

export { PLANS, type Plan };
export const ROLES = ['member', 'manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Rank of a role: member 1 < manager 2 < admin 3. */
export function roleLevel(role: Role): number {
  return ROLES.indexOf(role) + 1;
}

/** Rank of a plan: trial 0 < starter 1 < growth 2 < enterprise 3. */
export function planRank(plan: Plan): number {
  return PLANS.indexOf(plan);
}

export interface PlanDefinition {
  id: Plan;
  name: { en: string; ar: string };
  /** Monthly price in US cents; 0 for the trial. */
  price_cents: number;
  currency: 'USD';
  /** null means unlimited. */
  user_limit: number | null;
  integration_limit: number | null;
  trial_days: number | null;
  features: string[];
}

/** The plans of the product contract, with their limits and the features they open. */
export const PLAN_DEFINITIONS: Record<Plan, PlanDefinition> = {
  trial: {
    id: 'trial',
    name: { en: 'Trial', ar: 'تجريبية' },
    price_cents: 0,
    currency: 'USD',
    user_limit: 30,
    integration_limit: 3,
    trial_days: 14,
    features: ['capture', 'query', 'voice'],
  },
  starter: {
    id: 'starter',
    name: { en: 'Starter', ar: 'المبتدئة' },
    price_cents: 4900,
    currency: 'USD',
    user_limit: 30,
    integration_limit: 3,
    trial_days: null,
    features: ['capture', 'query', 'voice', 'manual', 'documents'],
  },
  growth: {
    id: 'growth',
    name: { en: 'Growth', ar: 'النمو' },
    price_cents: 14900,
    currency: 'USD',
    user_limit: 150,
    integration_limit: null,
    trial_days: null,
    features: ['capture', 'query', 'voice', 'manual', 'documents', 'api_keys', 'webhooks', 'interviews', 'analytics', 'bulk_operations', 'graph', 'categories', 'locations', 'transcription'],
  },
  enterprise: {
    id: 'enterprise',
    name: { en: 'Enterprise', ar: 'المؤسسات' },
    price_cents: 39900,
    currency: 'USD',
    user_limit: null,
    integration_limit: null,
    trial_days: null,
    features: [
      'capture',
      'query',
      'voice',
      'manual',
      'documents',
      'api_keys',
      'webhooks',
      'interviews',
      'analytics',
      'bulk_operations',
      'graph',
      'categories',
      'locations',
      'transcription',
      'sso',
      'byok',
      'dedicated_support',
    ],
  },
};
