import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orgSso } from '../../src/db/schema/index.ts';
import { addUser, createOrg } from '../factories.ts';
import { createTestApp, type TestApp } from '../harness.ts';

let t: TestApp;
let idp: http.Server;
let base = '';
const CERT = 'MII' + 'A'.repeat(400);
const metadata = (withCert: boolean) => `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.test/saml">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    ${withCert ? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` : ''}
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;

beforeAll(async () => {
  idp = http.createServer((req, res) => {
    const json = (o: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (req.url === '/realm/.well-known/openid-configuration') {
      return json({ issuer: `${base}/realm`, authorization_endpoint: `${base}/realm/auth`, token_endpoint: `${base}/realm/token`, jwks_uri: `${base}/realm/certs` });
    }
    if (req.url === '/realm/certs') return json({ keys: [{ kty: 'RSA', kid: 'k1', n: 'abc', e: 'AQAB' }] });
    if (req.url === '/saml/metadata') {
      res.writeHead(200, { 'content-type': 'application/xml' });
      return res.end(metadata(true));
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
  idp?.close();
});

describe('single sign-on configuration', () => {
  it('is Enterprise and admin only', async () => {
    const growth = await createOrg(t, { plan: 'growth' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/sso', headers: growth.owner.headers })).json().error.code).toBe('PLAN_UPGRADE_REQUIRED');
    const ent = await createOrg(t, { plan: 'enterprise' });
    const mgr = await addUser(t, ent, { role: 'manager' });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/sso', headers: mgr.headers })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/organizations/sso', headers: ent.owner.headers })).statusCode).toBe(404);
  });

  it('stores an OIDC issuer with its secret sealed and validates discovery and keys', async () => {
    const org = await createOrg(t, { plan: 'enterprise' });
    const put = await t.app.inject({
      method: 'PUT',
      url: '/api/v1/organizations/sso',
      headers: org.owner.headers,
      payload: { type: 'oidc', issuer: `${base}/realm`, client_id: 'tadween', client_secret: 'oidc-client-secret-xyz' },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ type: 'oidc', client_id: 'tadween', client_secret_set: true });
    expect(put.body).not.toContain('oidc-client-secret-xyz');
    const [row] = await t.deps.database.db.select().from(orgSso).where(eq(orgSso.orgId, org.id));
    expect(JSON.stringify(row)).not.toContain('oidc-client-secret-xyz');
    const test = await t.app.inject({ method: 'POST', url: '/api/v1/organizations/sso/test', headers: org.owner.headers });
    expect(test.json().ok).toBe(true);
    expect(test.json().checks.map((c: { name: string }) => c.name)).toEqual(['discovery_document', 'issuer_matches', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'signing_keys']);

    await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/sso', headers: org.owner.headers, payload: { type: 'oidc', issuer: `${base}/missing`, client_id: 'x', client_secret: 'y' } });
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/organizations/sso/test', headers: org.owner.headers });
    expect(bad.json()).toMatchObject({ ok: false, checks: [{ name: 'discovery_document', ok: false, detail: 'HTTP 404' }] });
  });

  it('validates SAML metadata given inline or by URL, and reports a missing signing certificate', async () => {
    const org = await createOrg(t, { plan: 'enterprise' });
    await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/sso', headers: org.owner.headers, payload: { type: 'saml', metadata_xml: metadata(true) } });
    const ok = (await t.app.inject({ method: 'POST', url: '/api/v1/organizations/sso/test', headers: org.owner.headers })).json();
    expect(ok.ok).toBe(true);
    expect(ok.checks).toEqual(
      expect.arrayContaining([
        { name: 'entity_id', ok: true, detail: 'https://idp.example.test/saml' },
        { name: 'sso_url', ok: true, detail: 'https://idp.example.test/sso' },
        { name: 'signing_certificate', ok: true },
      ]),
    );
    await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/sso', headers: org.owner.headers, payload: { type: 'saml', metadata_xml: metadata(false) } });
    const noCert = (await t.app.inject({ method: 'POST', url: '/api/v1/organizations/sso/test', headers: org.owner.headers })).json();
    expect(noCert.ok).toBe(false);
    expect(noCert.checks).toContainEqual({ name: 'signing_certificate', ok: false });
    await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/sso', headers: org.owner.headers, payload: { type: 'saml', metadata_url: `${base}/saml/metadata` } });
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/organizations/sso/test', headers: org.owner.headers })).json().ok).toBe(true);
    const missing = await t.app.inject({ method: 'PUT', url: '/api/v1/organizations/sso', headers: org.owner.headers, payload: { type: 'saml' } });
    expect(missing.statusCode).toBe(422);
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/organizations/sso', headers: org.owner.headers })).statusCode).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/organizations/sso', headers: org.owner.headers })).statusCode).toBe(404);
  });
});
