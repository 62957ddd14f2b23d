export * from './platform.ts';
export * from './identity.ts';
export * from './idempotency.ts';
export * from './query.ts';
export * from './integrations.ts';
export * from './entries.ts';
export * from './search.ts';
export * from './capture.ts';
