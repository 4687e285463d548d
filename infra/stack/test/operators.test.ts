import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artemisPasswordHash } from '../src/mqtt-principals';
import { parseGrace } from '../src/operators-commands';
import {
  appendAudit,
  guardProperties,
  nextExpiry,
  operatorsAuditFile,
  pruneExpired,
  renderAccessFiles,
  syncRegistryOperators,
  verifyArtemisHash,
  verifyAuditChain,
  type OperatorRecord,
  type OperatorsState,
} from '../src/operators';

const T0 = Date.parse('2026-12-06T12:00:00Z');

function record(operator: string, over: Partial<OperatorRecord> = {}): OperatorRecord {
  return {
    operator,
    source: 'command',
    status: 'active',
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    password: { hash: artemisPasswordHash('new'), issuedAt: new Date(T0).toISOString() },
    previousPassword: null,
    certificate: null,
    previousCertificate: null,
    ...over,
  };
}

const stackDir = () => ({ dir: mkdtempSync(path.join(tmpdir(), 'ondijon-operators-')) });

describe('operators state', () => {
  it("checks passwords against Artemis' PBKDF2 hashes", () => {
    const hash = artemisPasswordHash('s3cret');
    expect(verifyArtemisHash('s3cret', hash)).toBe(true);
    expect(verifyArtemisHash('s3cret!', hash)).toBe(false);
    expect(verifyArtemisHash('s3cret', 'plain')).toBe(false);
  });

  it('drops a previous password and certificate once their grace window has ended, not before', () => {
    const until = new Date(T0 + 60_000).toISOString();
    const state: OperatorsState = {
      version: 1,
      operators: {
        a: record('a', {
          previousPassword: { hash: artemisPasswordHash('old'), issuedAt: '', expiresAt: until },
          previousCertificate: {
            serial: '01',
            subject: 'CN=a, OU=cert-x, O=OnDijon',
            sha256: '',
            issuedAt: '',
            notAfter: '',
            expiresAt: until,
          },
        }),
        b: record('b'),
      },
    };
    expect(nextExpiry(state)).toBe(T0 + 60_000);
    expect(pruneExpired(state, T0 + 59_999)).toEqual([]);
    expect(state.operators.a!.previousPassword).not.toBeNull();
    expect(pruneExpired(state, T0 + 60_000)).toEqual(['a']);
    expect(state.operators.a!.previousPassword).toBeNull();
    expect(state.operators.a!.previousCertificate).toBeNull();
    expect(nextExpiry(state)).toBeUndefined();
  });

  it('renders the JAAS files and ACL of active operators only, grace credentials in their own files', () => {
    const config = stackDir();
    const old = artemisPasswordHash('old');
    const state: OperatorsState = {
      version: 1,
      operators: {
        alpha: record('alpha', {
          previousPassword: { hash: old, issuedAt: '', expiresAt: '2099-01-01T00:00:00Z' },
        }),
        beta: record('beta', {
          password: null,
          certificate: {
            serial: '0A',
            subject: 'CN=beta, OU=cert-1, O=OnDijon',
            sha256: '',
            issuedAt: '',
            notAfter: '',
          },
        }),
        gone: record('gone', { status: 'revoked', password: null }),
      },
    };
    const files = renderAccessFiles(config, state);
    expect(files['users.properties']).toMatch(/^alpha = ENC\(/m);
    expect(files['users.properties']).toMatch(/^admin = ENC\(/m);
    expect(files['users.properties']).not.toMatch(/^beta|^gone/m);
    expect(files['users-grace.properties']).toContain(`alpha = ${old}`);
    expect(files['cert-users.properties']).toContain('beta = CN=beta, OU=cert-1, O=OnDijon');
    expect(files['roles.properties']).toMatch(/^op-alpha = alpha$/m);
    expect(files['roles.properties']).toMatch(/^op-beta = beta$/m);
    expect(files['roles.properties']).not.toContain('gone');
    expect(files['security-settings.xml']).toContain('ondijon.v1.*.alpha.#');
    expect(files['security-settings.xml']).not.toContain('.gone.');
    for (const text of Object.values(files)) expect(text).not.toContain('new');
  });

  it("adds the registry's operators with the stack's password file, and keeps a revoked one revoked", () => {
    const config = stackDir();
    const state: OperatorsState = {
      version: 1,
      operators: { c: record('c', { source: 'registry', status: 'revoked', password: null }) },
    };
    expect(syncRegistryOperators(config, state, T0, ['a', 'c'])).toEqual(['a']);
    const file = path.join(config.dir, 'secrets', 'mqtt', 'a.password');
    expect(verifyArtemisHash(readFileSync(file, 'utf8').trim(), state.operators.a!.password!.hash)).toBe(
      true,
    );
    expect(state.operators.c!.status).toBe('revoked');
    // A password file replaced by hand is hashed again.
    writeFileSync(file, 'replaced\n');
    syncRegistryOperators(config, state, T0, ['a', 'c']);
    expect(verifyArtemisHash('replaced', state.operators.a!.password!.hash)).toBe(true);
  });

  it('chains audit lines so that an edited or removed line is detected', () => {
    const config = stackDir();
    for (const action of ['add', 'rotate', 'revoke'] as const)
      appendAudit(config, { at: new Date(T0).toISOString(), actor: 'me', action, operator: 'a', detail: {} });
    expect(verifyAuditChain(config)).toBe(true);
    const file = operatorsAuditFile(config);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    writeFileSync(file, `${[lines[0], lines[2]].join('\n')}\n`);
    expect(verifyAuditChain(config)).toBe(false);
  });

  it('puts a certificate superseded by a rotation on the revoked list when its grace window ends', () => {
    const cert = {
      serial: 'AB12',
      subject: 'CN=a, OU=cert-1, O=OnDijon',
      sha256: 'x',
      issuedAt: new Date(T0).toISOString(),
      notAfter: new Date(T0 + 86_400_000).toISOString(),
      expiresAt: new Date(T0 + 1_000).toISOString(),
    };
    const state: OperatorsState = {
      version: 1,
      operators: { a: record('a', { previousCertificate: cert }) },
    };
    pruneExpired(state, T0 + 500);
    expect(state.operators.a!.revokedCertificates).toBeUndefined();
    pruneExpired(state, T0 + 1_000);
    expect(state.operators.a!.revokedCertificates).toEqual([
      {
        serial: 'AB12',
        subject: cert.subject,
        notAfter: cert.notAfter,
        revokedAt: new Date(T0 + 1_000).toISOString(),
      },
    ]);
  });

  it("writes the broker guard's caps from the stack config, the services exempt and the revoked operators", () => {
    const state: OperatorsState = {
      version: 1,
      operators: {
        a: record('a'),
        b: record('b', { status: 'revoked' }),
        c: record('c', { status: 'revoked' }),
      },
    };
    const text = guardProperties(
      {
        ...stackDir(),
        mqttOperatorCaps: { maxConnections: 3, maxSessionExpirySeconds: 600, maxInflightBytes: -1 },
      },
      state,
    );
    expect(text).toContain('maxConnections=3\n');
    expect(text).toContain('maxSessionExpirySeconds=600\n');
    expect(text).toContain('maxInflightBytes=-1\n');
    expect(text).toContain('exempt=admin,ingest,replay\n');
    expect(text).toContain('revoked=b,c\n');
    expect(text).toMatch(/^crl=.*mqtt-tls\/crl\.pem$/m);
  });

  it('parses grace windows', () => {
    expect(parseGrace('30s')).toBe(30_000);
    expect(parseGrace('10m')).toBe(600_000);
    expect(parseGrace('7d')).toBe(7 * 86_400_000);
    expect(() => parseGrace('soon')).toThrow(/not a duration/);
  });
});
