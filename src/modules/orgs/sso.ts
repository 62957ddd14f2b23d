import { eq } from 'drizzle-orm';
import { XMLParser } from 'fast-xml-parser';
import { orgSso } from '../../db/schema/index.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import type { Sealer } from '../../platform/crypto/secrets.ts';
import type { Db } from '../../platform/db/client.ts';
import { AppError, defineErrors } from '../../platform/http/errors.ts';
import { sendOutbound, type OutboundPolicy } from '../../platform/net/outbound.ts';

defineErrors({
  SSO_NOT_CONFIGURED: { status: 404, en: 'Single sign-on is not configured for this organisation.', ar: 'لم يُضبط الدخول الموحّد لهذه المؤسسة.' },
});

export type SsoInput =
  | { type: 'oidc'; issuer: string; client_id: string; client_secret: string }
  | { type: 'saml'; metadata_xml?: string; metadata_url?: string };

export interface SsoCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

/** What SAML IdP metadata says, or why it cannot be used. */
export function parseSamlMetadata(xml: string): { checks: SsoCheck[]; entityId?: string; ssoUrl?: string } {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, processEntities: false });
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (err) {
    return { checks: [{ name: 'metadata_parses', ok: false, detail: (err as Error).message }] };
  }
  type Node = Record<string, unknown>;
  const arr = (v: unknown): Node[] => (v === undefined || v === null ? [] : Array.isArray(v) ? (v as Node[]) : [v as Node]);
  const entities = [...arr(doc.EntityDescriptor), ...arr((doc.EntitiesDescriptor as Node | undefined)?.EntityDescriptor)];
  const entity = entities.find((e) => e && typeof e === 'object' && 'IDPSSODescriptor' in e) ?? entities[0];
  const checks: SsoCheck[] = [{ name: 'metadata_parses', ok: !!entity }];
  if (!entity) return { checks };
  const entityId = typeof entity['@entityID'] === 'string' ? (entity['@entityID'] as string) : undefined;
  checks.push({ name: 'entity_id', ok: !!entityId, ...(entityId ? { detail: entityId } : {}) });
  const idp = arr(entity.IDPSSODescriptor)[0];
  const sso = arr(idp?.SingleSignOnService)
    .map((s) => s['@Location'])
    .find((l): l is string => typeof l === 'string');
  checks.push({ name: 'sso_url', ok: !!sso && /^https?:\/\//.test(sso), ...(sso ? { detail: sso } : {}) });
  const keys = arr(idp?.KeyDescriptor).filter((k) => k['@use'] === undefined || k['@use'] === 'signing');
  const cert = keys
    .map((k) => ((k.KeyInfo as Node | undefined)?.X509Data as Node | undefined)?.X509Certificate)
    .find((c) => typeof c === 'string' && c.replace(/\s+/g, '').length > 100);
  checks.push({ name: 'signing_certificate', ok: !!cert });
  return { checks, ...(entityId ? { entityId } : {}), ...(sso ? { ssoUrl: sso } : {}) };
}

/** Single sign-on configuration of an organisation and its validation against the identity provider. */
export class SsoService {
  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly policy: OutboundPolicy,
  ) {}

  private present(row: typeof orgSso.$inferSelect) {
    return {
      type: row.type,
      issuer: row.issuer,
      client_id: row.clientId,
      client_secret_set: !!row.clientSecretSealed,
      metadata_url: row.metadataUrl,
      metadata_xml_set: !!row.metadataXml,
      updated_at: row.updatedAt.toISOString(),
    };
  }

  async get(actor: Actor) {
    const [row] = await this.db.select().from(orgSso).where(eq(orgSso.orgId, actor.orgId));
    if (!row) throw new AppError('SSO_NOT_CONFIGURED');
    return this.present(row);
  }

  async put(actor: Actor, input: SsoInput) {
    if (input.type === 'saml' && !input.metadata_xml && !input.metadata_url) {
      throw new AppError('VALIDATION_ERROR', { fields: [{ field: 'metadata_xml', reason: 'metadata_xml or metadata_url is required for SAML' }] });
    }
    const values = {
      orgId: actor.orgId,
      type: input.type,
      issuer: input.type === 'oidc' ? input.issuer.replace(/\/+$/, '') : null,
      clientId: input.type === 'oidc' ? input.client_id : null,
      clientSecretSealed: input.type === 'oidc' ? this.sealer.seal(input.client_secret) : null,
      metadataXml: input.type === 'saml' ? (input.metadata_xml ?? null) : null,
      metadataUrl: input.type === 'saml' ? (input.metadata_url ?? null) : null,
      updatedBy: actor.userId ?? null,
      updatedAt: new Date(),
    };
    await this.db.insert(orgSso).values(values).onConflictDoUpdate({ target: orgSso.orgId, set: values });
    return this.get(actor);
  }

  async remove(actor: Actor): Promise<void> {
    const rows = await this.db.delete(orgSso).where(eq(orgSso.orgId, actor.orgId)).returning({ id: orgSso.orgId });
    if (rows.length === 0) throw new AppError('SSO_NOT_CONFIGURED');
  }

  private async fetchText(url: string): Promise<{ status: number; text: string }> {
    const res = await sendOutbound({ url, method: 'GET', policy: this.policy, timeoutMs: 10_000, maxResponseBytes: 1024 * 1024, headers: { accept: 'application/json, application/xml' } });
    return { status: res.status, text: res.body.toString('utf8') };
  }

  /** Validates the configuration against the identity provider: discovery and keys, or metadata. */
  async test(actor: Actor): Promise<{ ok: boolean; type: 'oidc' | 'saml'; checks: SsoCheck[] }> {
    const [row] = await this.db.select().from(orgSso).where(eq(orgSso.orgId, actor.orgId));
    if (!row) throw new AppError('SSO_NOT_CONFIGURED');
    const checks: SsoCheck[] = [];
    try {
      if (row.type === 'oidc') {
        const url = `${row.issuer}/.well-known/openid-configuration`;
        const res = await this.fetchText(url);
        checks.push({ name: 'discovery_document', ok: res.status === 200, detail: `HTTP ${res.status}` });
        if (res.status === 200) {
          let d: Record<string, unknown> = {};
          try {
            d = JSON.parse(res.text) as Record<string, unknown>;
          } catch {
            checks.push({ name: 'discovery_json', ok: false });
          }
          checks.push({ name: 'issuer_matches', ok: d.issuer === row.issuer, detail: String(d.issuer ?? '') });
          for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) checks.push({ name: k, ok: typeof d[k] === 'string' });
          if (typeof d.jwks_uri === 'string') {
            const keys = await this.fetchText(d.jwks_uri);
            let n = 0;
            try {
              n = ((JSON.parse(keys.text) as { keys?: unknown[] }).keys ?? []).length;
            } catch {
              n = 0;
            }
            checks.push({ name: 'signing_keys', ok: n > 0, detail: `${n} key(s)` });
          }
        }
      } else {
        let xml = row.metadataXml ?? '';
        if (!xml && row.metadataUrl) {
          const res = await this.fetchText(row.metadataUrl);
          checks.push({ name: 'metadata_download', ok: res.status === 200, detail: `HTTP ${res.status}` });
          xml = res.status === 200 ? res.text : '';
        }
        checks.push(...parseSamlMetadata(xml).checks);
      }
    } catch (err) {
      checks.push({ name: 'reachable', ok: false, detail: (err as Error).message });
    }
    return { ok: checks.length > 0 && checks.every((c) => c.ok), type: row.type, checks };
  }
}
