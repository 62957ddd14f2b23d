import path from 'node:path';

/** Plans in ascending order; the index is the plan's rank. */
export const PLANS = ['trial', 'starter', 'growth', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ProviderConfig {
  baseUrl: string;
  apiKey?: string;
  model: string;
}

/** Validated configuration of one Tadween process. */
export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  nodeEnv: 'development' | 'production' | 'test';
  logLevel: LogLevel;
  defaultPlan: Plan;
  setupToken?: string;
  smtpUrl?: string;
  mailFrom: string;
  google: { clientId?: string; jwksUrl: string };
  metricsBasicAuth?: { user: string; pass: string };
  webhooksAllowPrivate: boolean;
  webhookRetrySchedule: number[];
  /** Consecutive failed attempts after which a webhook endpoint is disabled (WEBHOOK_DISABLE_AFTER_FAILURES, default 20). */
  webhookDisableAfterFailures: number;
  /** Time allowed for one webhook attempt, connect to last byte (WEBHOOK_TIMEOUT_MS, default 10000). */
  webhookTimeoutMs: number;
  llm?: ProviderConfig & { provider: 'openai-compatible' | 'anthropic' };
  /** Longest wait for one LLM call, connect to last token (LLM_TIMEOUT_MS, default 60000); then 502 UPSTREAM_ERROR. */
  llmTimeoutMs: number;
  embeddings?: ProviderConfig & { dimensions?: number };
  transcription?: ProviderConfig;
  blobs: { dir: string } | { s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region: string } };
  /** Base64 of 32 bytes; when absent it is generated in DATA_DIR (never in production). */
  encryptionKey?: string;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Largest uploaded file (documents, audio), in bytes (UPLOAD_LIMIT_BYTES, default 25 MB). */
  uploadLimit: number;
}

/** Thrown when the environment is invalid; `problems` holds one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment; throws ConfigError listing every bad variable at once. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = str(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${name}: expected an integer from ${min} to ${max}, got "${v}"`);
      return def;
    }
    return Number(v);
  };
  const oneOf = <T extends string>(name: string, values: readonly T[], def: T): T => {
    const v = str(name);
    if (v === undefined) return def;
    if (!(values as readonly string[]).includes(v)) {
      problems.push(`${name}: expected one of ${values.join(', ')}, got "${v}"`);
      return def;
    }
    return v as T;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new Error('protocol');
      return v;
    } catch {
      problems.push(`${name}: expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      return undefined;
    }
  };
  const bool = (name: string, def: boolean): boolean => {
    const v = str(name);
    if (v === undefined) return def;
    if (['true', '1', 'yes'].includes(v.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(v.toLowerCase())) return false;
    problems.push(`${name}: expected true or false, got "${v}"`);
    return def;
  };

  const nodeEnv = oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const port = int('PORT', 5001, 1, 65535);
  const host = str('HOST') ?? '0.0.0.0';
  const publicUrl = url('PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`;
  const dataDir = path.resolve(str('DATA_DIR') ?? './data');
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);
  const logLevel = oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info');
  const defaultPlan = oneOf('DEFAULT_PLAN', PLANS, 'trial');
  const smtpUrl = url('SMTP_URL', ['smtp:', 'smtps:']);
  const mailFrom = str('MAIL_FROM') ?? 'Tadween <no-reply@localhost>';

  let metricsBasicAuth: Config['metricsBasicAuth'];
  const mba = str('METRICS_BASIC_AUTH');
  if (mba !== undefined) {
    const i = mba.indexOf(':');
    if (i <= 0 || i === mba.length - 1) problems.push('METRICS_BASIC_AUTH: expected user:pass with both parts non-empty');
    else metricsBasicAuth = { user: mba.slice(0, i), pass: mba.slice(i + 1) };
  }

  let webhookRetrySchedule = [5, 300, 1800, 7200, 18000, 36000, 36000];
  const wrs = str('WEBHOOK_RETRY_SCHEDULE');
  if (wrs !== undefined) {
    const parts = wrs.split(',').map((s) => s.trim());
    if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
      problems.push(`WEBHOOK_RETRY_SCHEDULE: expected comma-separated whole seconds such as 5,300,1800, got "${wrs}"`);
    } else webhookRetrySchedule = parts.map(Number);
  }

  const provider = (prefix: string): ProviderConfig | undefined => {
    const baseUrl = url(`${prefix}_BASE_URL`, ['http:', 'https:']);
    const model = str(`${prefix}_MODEL`);
    const apiKey = str(`${prefix}_API_KEY`);
    if (baseUrl === undefined && model === undefined && apiKey === undefined) return undefined;
    if (baseUrl === undefined && str(`${prefix}_BASE_URL`) === undefined) {
      problems.push(`${prefix}_BASE_URL: required when ${prefix}_MODEL or ${prefix}_API_KEY is set`);
      return undefined;
    }
    if (model === undefined) {
      problems.push(`${prefix}_MODEL: required when ${prefix}_BASE_URL is set`);
      return undefined;
    }
    if (baseUrl === undefined) return undefined;
    return { baseUrl, model, ...(apiKey ? { apiKey } : {}) };
  };
  const llmBase = provider('LLM');
  const llmProvider = oneOf('LLM_PROVIDER', ['openai-compatible', 'anthropic'] as const, 'openai-compatible');
  const embBase = provider('EMBEDDINGS');
  const embDims = str('EMBEDDINGS_DIMENSIONS') === undefined ? undefined : int('EMBEDDINGS_DIMENSIONS', 0, 1, 16000);
  const transcription = provider('TRANSCRIPTION');

  let blobs: Config['blobs'] = { dir: path.resolve(str('BLOB_DIR') ?? path.join(dataDir, 'blobs')) };
  const s3Endpoint = url('S3_ENDPOINT', ['http:', 'https:']);
  if (s3Endpoint !== undefined) {
    const need = ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const;
    const missing = need.filter((n) => str(n) === undefined);
    for (const n of missing) problems.push(`${n}: required when S3_ENDPOINT is set`);
    if (missing.length === 0) {
      blobs = {
        s3: {
          endpoint: s3Endpoint,
          bucket: str('S3_BUCKET')!,
          accessKeyId: str('S3_ACCESS_KEY_ID')!,
          secretAccessKey: str('S3_SECRET_ACCESS_KEY')!,
          region: str('S3_REGION') ?? 'us-east-1',
        },
      };
    }
  }

  const encryptionKey = str('ENCRYPTION_KEY');
  if (encryptionKey !== undefined && Buffer.from(encryptionKey, 'base64').length !== 32) {
    problems.push('ENCRYPTION_KEY: expected 32 bytes in base64 (for example the output of `openssl rand -base64 32`)');
  }
  if (nodeEnv === 'production' && encryptionKey === undefined) {
    problems.push('ENCRYPTION_KEY: required when NODE_ENV=production (32 bytes in base64, e.g. `openssl rand -base64 32`)');
  }
  if (nodeEnv === 'production' && !publicUrl.startsWith('https://') && str('PUBLIC_URL') === undefined) {
    problems.push('PUBLIC_URL: required when NODE_ENV=production (the https address users reach Tadween at)');
  }

  const bodyLimit = int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024);
  const uploadLimit = int('UPLOAD_LIMIT_BYTES', 25 * 1024 * 1024, 1024, 1024 * 1024 * 1024);
  const webhooksAllowPrivate = bool('WEBHOOKS_ALLOW_PRIVATE', false);
  const webhookDisableAfterFailures = int('WEBHOOK_DISABLE_AFTER_FAILURES', 20, 1, 100_000);
  const webhookTimeoutMs = int('WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000);
  const llmTimeoutMs = int('LLM_TIMEOUT_MS', 60_000, 100, 600_000);
  const googleJwksUrl = url('GOOGLE_JWKS_URL', ['http:', 'https:']) ?? 'https://www.googleapis.com/oauth2/v3/certs';

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port,
    host,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    nodeEnv,
    logLevel,
    defaultPlan,
    ...(str('SETUP_TOKEN') ? { setupToken: str('SETUP_TOKEN') } : {}),
    ...(smtpUrl ? { smtpUrl } : {}),
    mailFrom,
    google: {
      ...(str('GOOGLE_CLIENT_ID') ? { clientId: str('GOOGLE_CLIENT_ID') } : {}),
      jwksUrl: googleJwksUrl,
    },
    ...(metricsBasicAuth ? { metricsBasicAuth } : {}),
    webhooksAllowPrivate,
    webhookRetrySchedule,
    webhookDisableAfterFailures,
    webhookTimeoutMs,
    ...(llmBase ? { llm: { ...llmBase, provider: llmProvider } } : {}),
    llmTimeoutMs,
    ...(embBase ? { embeddings: { ...embBase, ...(embDims ? { dimensions: embDims } : {}) } } : {}),
    ...(transcription ? { transcription } : {}),
    blobs,
    ...(encryptionKey ? { encryptionKey } : {}),
    bodyLimit,
    uploadLimit,
  };
}
