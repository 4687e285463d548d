/**
 * MQTT operators on the real broker (issue 12, items 1 and 2), checked with an independent client
 * (paho-mqtt, test/independent/mqtt_probe.py): anonymous and wrong-password logins refused; an operator
 * added by `pnpm operators add` publishes under its own prefix only and cannot subscribe to another's;
 * after `rotate`, old and new passwords both work during the grace window and only the new one after it
 * (expiry run as of the window's end; and, for a short window, the timer that rotate starts); after `revoke`, the live connection is closed and a
 * reconnect refused; the caps per operator hold (the connection past the cap refused with CONNACK 0x97
 * while another operator connects, a session expiry above the cap reduced and granted in the CONNACK);
 * over TLS, a client certificate (CN = operator) logs in as that operator and is confined to its prefix, a
 * connection with neither certificate nor password is refused, a client without the stack's CA does not
 * get through the handshake, and a revoked certificate is on the CA's CRL and refused even beside a valid
 * password. Every action left a hash-chained audit line.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import {
  addOperator,
  artemisHome,
  expireOperators,
  listOperators,
  mqttCaFile,
  mqttCrlFile,
  operatorsAuditFile,
  operatorsStateFile,
  readOperatorsState,
  resolveConfig,
  revokeOperator,
  rotateOperator,
  verifyAuditChain,
} from '@ondijon/stack';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, mqttAuth, testEndpoints, uniqueName, usesStackSecrets, waitFor } from '../setup/index';

const PROBE = path.join(import.meta.dirname, '..', 'independent', 'mqtt_probe.py');
const CORE_HOLD = path.join(import.meta.dirname, '..', 'independent', 'CoreHold.java');
const endpoints = testEndpoints();
const local = usesStackSecrets(endpoints);
const config = resolveConfig({ externalMqtt: undefined });
const mqttPort = Number(new URL(endpoints.mqttUrl).port);
const cleanup = new Cleanup();
const run = uniqueName('ops')
  .replace(/[^a-z0-9]/gi, '')
  .toLowerCase();
/** Operators this file creates: unique, so they never meet the registry's or another run's. */
const opA = `t${run.slice(-10)}-a`;
const opB = `t${run.slice(-10)}-b`;
const opCert = `t${run.slice(-10)}-c`;
const opCore = `t${run.slice(-10)}-d`;
const prefix = `t/${run}/`;
const topicOf = (operator: string) => `${prefix}ondijon/v1/streetlight/${operator}/SL-${run}`;
const actor = `test:${run}`;

type ProbeResult = Record<string, unknown>;

/** Runs the independent client once and returns its JSON line. */
async function probe(args: string[]): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [PROBE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const line = out.trim().split('\n').at(-1);
      if (line === undefined || line === '') reject(new Error(`mqtt_probe.py printed nothing: ${err}`));
      else resolve(JSON.parse(line) as ProbeResult);
    });
  });
}

// `--name=value`: a base64url password may start with a dash.
const login = (username: string, password: string) => [`--username=${username}`, `--password=${password}`];
const publish = (port: number, topic: string, extra: string[]) =>
  probe(['publish', '--port', String(port), '--topic', topic, ...extra]);

/** A connection held open by the independent client; `lines` grows as it prints. */
function hold(extra: string[]): { lines: ProbeResult[]; done: Promise<void> } {
  const child = spawn(
    'python3',
    [PROBE, 'hold', '--port', String(mqttPort), '--hold-seconds', '60', ...extra],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  cleanup.add(() => child.kill());
  const lines: ProbeResult[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as ProbeResult));
  return { lines, done: new Promise((resolve) => child.on('close', () => resolve())) };
}

/**
 * `connect` mode of the independent client: opens connections one after the other and keeps the accepted
 * ones until `release()` (stdin closed); `lines` grows as it prints (one per CONNACK, then the summary).
 */
function connectMany(extra: string[]): { lines: ProbeResult[]; release: () => void; done: Promise<void> } {
  const child = spawn(
    'python3',
    [PROBE, 'connect', '--port', String(mqttPort), '--hold-seconds', '120', ...extra],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  cleanup.add(() => child.kill());
  const lines: ProbeResult[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as ProbeResult));
  return {
    lines,
    release: () => child.stdin.end(),
    done: new Promise((resolve) => child.on('close', () => resolve())),
  };
}

const execFileAsync = promisify(execFile);

describe.skipIf(!local)('MQTT operators (pnpm operators, real broker, independent client)', () => {
  const passwords: Record<string, string> = {};
  const received: string[] = [];

  beforeAll(async () => {
    // An independent subscriber with admin rights sees what reaches the broker's topics of this run.
    const admin = await mqtt.connectAsync(endpoints.mqttUrl, {
      ...mqttAuth('admin'),
      protocolVersion: 5,
      clientId: `sub-${run}`,
      clean: true,
    });
    cleanup.add(() => admin.endAsync());
    admin.on('message', (topic) => received.push(topic));
    await admin.subscribeAsync(`${prefix}#`, { qos: 1 });
    for (const op of [opA, opB]) {
      const issued = await addOperator(config, op, { actor });
      expect(issued.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(issued.management.reached).toBe(true);
      passwords[op] = issued.password!;
    }
  }, 600_000);

  afterAll(async () => {
    for (const op of [opA, opB, opCert, opCore])
      if (readOperatorsState(config).operators[op]?.status === 'active')
        await revokeOperator(config, op, { actor }).catch(() => undefined);
    await cleanup.run();
  }, 600_000);

  it('refuses anonymous logins and wrong passwords', async () => {
    expect(await publish(mqttPort, topicOf(opA), [])).toMatchObject({ connack: 'Bad user name or password' });
    expect(await publish(mqttPort, topicOf(opA), login(opA, 'not-the-password'))).toMatchObject({
      connack: 'Bad user name or password',
    });
  });

  it('stores only a hash of the new password, and lists the operator without any secret', async () => {
    const stored = readFileSync(operatorsStateFile(config), 'utf8');
    expect(stored).not.toContain(passwords[opA]);
    expect(readFileSync(path.join(config.dir, 'artemis', 'etc', 'users.properties'), 'utf8')).not.toContain(
      passwords[opA],
    );
    const rows = await listOperators(config, { actor });
    expect(rows.find((r) => r.operator === opA)).toMatchObject({
      source: 'command',
      status: 'active',
      password: 'set',
      graceUntil: null,
    });
    expect(JSON.stringify(rows)).not.toContain(passwords[opA]);
  });

  it("lets a new operator publish under its own prefix only, and subscribe to nothing of another's", async () => {
    expect(await publish(mqttPort, topicOf(opA), login(opA, passwords[opA]!))).toEqual({
      connack: 'Success',
      puback: 'Success',
    });
    expect(await publish(mqttPort, topicOf(opB), login(opA, passwords[opA]!))).toEqual({
      connack: 'Success',
      puback: 'Not authorized',
    });
    expect(
      await probe([
        'subscribe',
        '--port',
        String(mqttPort),
        '--topic',
        `${prefix}ondijon/v1/+/${opB}/#`,
        ...login(opA, passwords[opA]!),
      ]),
    ).toMatchObject({ connack: 'Success', suback: ['Not authorized'] });
    // What reached the broker: A's message, never the one under B's prefix.
    await waitFor(() => received.includes(topicOf(opA)), { message: "A's message at the admin subscriber" });
    expect(received).not.toContain(topicOf(opB));
  });

  it('keeps the old and the new password working during the grace window, then only the new one', async () => {
    const old = passwords[opA]!;
    // A window long enough for any machine; its end is then brought forward by running expiry as of later.
    const rotated = await rotateOperator(config, opA, { actor, graceMs: 3_600_000 });
    const fresh = rotated.password!;
    expect(fresh).not.toBe(old);
    expect((await listOperators(config, { actor })).find((r) => r.operator === opA)?.graceUntil).toBe(
      rotated.graceUntil,
    );
    expect(await publish(mqttPort, topicOf(opA), login(opA, old))).toEqual({
      connack: 'Success',
      puback: 'Success',
    });
    expect(await publish(mqttPort, topicOf(opA), login(opA, fresh))).toEqual({
      connack: 'Success',
      puback: 'Success',
    });
    const { expired } = await expireOperators(config, {
      actor,
      now: () => Date.parse(rotated.graceUntil!) + 1,
    });
    expect(expired).toContain(opA);
    expect(await publish(mqttPort, topicOf(opA), login(opA, old))).toMatchObject({
      connack: 'Bad user name or password',
    });
    expect(await publish(mqttPort, topicOf(opA), login(opA, fresh))).toEqual({
      connack: 'Success',
      puback: 'Success',
    });
    passwords[opA] = fresh;
  }, 600_000);

  it('removes the previous password when the grace window ends, by the timer rotate started, with no other command', async () => {
    const old = passwords[opA]!;
    const rotated = await rotateOperator(config, opA, { actor, graceMs: 2_000 });
    passwords[opA] = rotated.password!;
    await waitFor(
      async () =>
        (await publish(mqttPort, topicOf(opA), login(opA, old))).connack === 'Bad user name or password',
      { timeoutMs: 120_000, intervalMs: 1_000, message: 'old password refused after the grace window' },
    );
    expect(readOperatorsState(config).operators[opA]?.previousPassword).toBeNull();
    expect(await publish(mqttPort, topicOf(opA), login(opA, passwords[opA]))).toEqual({
      connack: 'Success',
      puback: 'Success',
    });
  }, 600_000);

  it('refuses the connection past the operator cap with CONNACK 0x97 (quota exceeded), other operators unaffected', async () => {
    const cap = config.mqttOperatorCaps.maxConnections;
    expect(cap).toBeGreaterThan(0);
    const many = connectMany([
      ...login(opA, passwords[opA]!),
      '--connections',
      String(cap + 1),
      '--client-id',
      `cap-${run}`,
    ]);
    await waitFor(() => many.lines.length >= cap + 1, { timeoutMs: 60_000, message: `${cap + 1} CONNACKs` });
    expect(many.lines.slice(0, cap).map((l) => l.connack)).toEqual(Array<string>(cap).fill('Success'));
    expect(many.lines[cap]).toMatchObject({ connack: 'Quota exceeded' });
    // While the cap is reached: a new connection of the same operator is refused too, another operator's
    // is not, and a gateway reconnecting with the client id of one of its live connections takes that one
    // over (link stealing) instead of being refused.
    expect(
      (await publish(mqttPort, topicOf(opA), [...login(opA, passwords[opA]!), '--client-id', `cap-${run}-x`]))
        .connack,
    ).toBe('Quota exceeded');
    expect(await publish(mqttPort, topicOf(opB), login(opB, passwords[opB]!))).toEqual({
      connack: 'Success',
      puback: 'Success',
    });
    expect(
      await publish(mqttPort, topicOf(opA), [...login(opA, passwords[opA]!), '--client-id', `cap-${run}-0`]),
    ).toEqual({ connack: 'Success', puback: 'Success' });
    many.release();
    await many.done;
    expect(many.lines.at(-1)).toEqual({ closed_by_broker: 1 });
    // Once its connections are gone, the operator connects again.
    await waitFor(
      async () => (await publish(mqttPort, topicOf(opA), login(opA, passwords[opA]!))).connack === 'Success',
      { timeoutMs: 30_000, intervalMs: 500, message: 'a connection accepted again under the cap' },
    );
  }, 600_000);

  it('grants an operator no longer session expiry than the cap, and says so in the CONNACK', async () => {
    const cap = config.mqttOperatorCaps.maxSessionExpirySeconds;
    const once = async (extra: string[]) => {
      const c = connectMany(['--connections', '1', '--hold-seconds', '0', ...extra]);
      c.release();
      await c.done;
      return c.lines[0];
    };
    // Asked above the cap: reduced, and the CONNACK carries the value granted (property 0x11).
    expect(await once([...login(opA, passwords[opA]!), '--session-expiry', String(cap * 10)])).toEqual({
      connack: 'Success',
      session_expiry: cap,
    });
    // "Never expires" (0xFFFFFFFF) as well.
    expect(await once([...login(opA, passwords[opA]!), '--session-expiry', '4294967295'])).toEqual({
      connack: 'Success',
      session_expiry: cap,
    });
    // Within the cap: granted as asked (no property).
    expect(await once([...login(opA, passwords[opA]!), '--session-expiry', '60'])).toEqual({
      connack: 'Success',
      session_expiry: null,
    });
    // The services are not capped.
    const admin = mqttAuth('admin');
    expect(
      await once([...login(admin.username, admin.password), '--session-expiry', String(cap * 10)]),
    ).toEqual({ connack: 'Success', session_expiry: null });
  }, 600_000);

  it('closes a revoked operator’s live connection and refuses its reconnection', async () => {
    const held = hold(login(opB, passwords[opB]!));
    await waitFor(() => held.lines.length > 0, { message: 'held connection up' });
    expect(held.lines[0]).toEqual({ connack: 'Success' });
    // The broker's guard closes the connection as soon as the generated file lists opB as revoked; the
    // management call that follows finds it closed already, or closes it.
    await revokeOperator(config, opB, { actor });
    await waitFor(() => held.lines.some((l) => 'disconnected' in l), {
      timeoutMs: 20_000,
      message: 'the broker closed the revoked operator’s connection',
    });
    expect(held.lines.some((l) => 'still_connected' in l)).toBe(false);
    // Refused by the broker's guard (revoked list: 0x87) before its password is looked at.
    expect(await publish(mqttPort, topicOf(opB), login(opB, passwords[opB]!))).toMatchObject({
      connack: 'Not authorized',
    });
    expect((await listOperators(config, { actor })).find((r) => r.operator === opB)).toMatchObject({
      status: 'revoked',
      password: 'none',
    });
  }, 600_000);

  it('closes a revoked operator’s core-protocol session on the management acceptor (the management backstop)', async () => {
    // The broker's guard (infra/artemis/ClientIdGuard.java) is an MQTT interceptor: it never sees the core
    // protocol, which the loopback management acceptor speaks and where an operator's password logs in
    // too. Only the management call of revokeOperator, closeConnectionsForUser, closes such a session.
    const dir = mkdtempSync(path.join(tmpdir(), 'ondijon-core-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const passwordFile = path.join(dir, 'password');
    await addOperator(config, opCore, { actor, passwordFile });
    const lib = path.join(artemisHome(config), 'lib', '*');
    const classes = path.join(dir, 'classes');
    await execFileAsync('javac', ['-nowarn', '-cp', lib, '-d', classes, CORE_HOLD], { timeout: 300_000 });
    const child = spawn(
      'java',
      [
        '-cp',
        `${classes}${path.delimiter}${lib}`,
        'CoreHold',
        `tcp://127.0.0.1:${config.mqttAdminPort}`,
        opCore,
        passwordFile,
        '300',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.add(() => child.kill());
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    await waitFor(() => lines.length > 0, { timeoutMs: 120_000, message: 'core session up' });
    expect(lines[0]).toBe('connected');
    const { management } = await revokeOperator(config, opCore, { actor });
    // The session was still open when the management call came (the guard had not closed it)...
    expect(management.results.closeConnectionsForUser).toBe('true');
    // ...and that call closed it.
    await waitFor(() => lines.length > 1, { timeoutMs: 310_000, message: 'the core session ended' });
    expect(lines[1]).toBe('closed');
  }, 900_000);

  it("keeps ingest's client ids to the ingest principal: an operator can neither take over nor pre-empt its session", async () => {
    const clientId = `ondijon-ingest-${run}-0`;
    const ingest = mqttAuth('ingest');
    const held = hold([...login(ingest.username, ingest.password), '--client-id', clientId]);
    await waitFor(() => held.lines.length > 0, { message: 'ingest connection up' });
    expect(held.lines[0]).toEqual({ connack: 'Success' });
    // Same client id, another principal: refused before the broker looks at the session (no link stealing).
    const attempt = await probe([
      'hold',
      '--port',
      String(mqttPort),
      '--hold-seconds',
      '1',
      '--client-id',
      clientId,
      ...login(opA, passwords[opA]!),
    ]);
    expect(attempt.connack).not.toBe('Success');
    expect(held.lines.some((l) => 'disconnected' in l)).toBe(false);
    // A fresh id under the reserved prefix is refused to an operator as well.
    expect(
      (
        await publish(mqttPort, topicOf(opA), [
          ...login(opA, passwords[opA]!),
          '--client-id',
          `ondijon-ingest-${run}-9`,
        ])
      ).connack,
    ).not.toBe('Success');
  }, 600_000);

  describe('TLS listener', () => {
    const certDir = mkdtempSync(path.join(tmpdir(), 'ondijon-cert-'));
    const tlsPort = config.mqttsPort;
    let tls: { ca: string; cert: string; key: string };
    let serial = '';

    beforeAll(async () => {
      const issued = await addOperator(config, opCert, { actor, cert: true, noPassword: true, certDir });
      expect(issued.password).toBeUndefined();
      expect(issued.certificate?.subject).toContain(`CN=${opCert}`);
      serial = issued.certificate!.serial;
      tls = {
        ca: issued.certificate!.files.ca,
        cert: issued.certificate!.files.cert,
        key: issued.certificate!.files.key,
      };
    }, 600_000);

    const withCert = () => ['--ca', tls.ca, '--cert', tls.cert, '--key', tls.key];

    it("logs in an operator by its certificate, confined to that operator's prefix", async () => {
      expect(await publish(tlsPort, topicOf(opCert), withCert())).toEqual({
        connack: 'Success',
        puback: 'Success',
      });
      expect(await publish(tlsPort, topicOf(opA), withCert())).toEqual({
        connack: 'Success',
        puback: 'Not authorized',
      });
    });

    it("refuses a certificate login under another principal's user name, whatever the password", async () => {
      // The broker would refuse the service's password and log the certificate in as its operator, while a
      // guard going by the user name would see the exempt service: no caps, no revocation (issue 12).
      const ingest = mqttAuth('ingest');
      expect(
        await publish(tlsPort, topicOf(opCert), [...withCert(), ...login(ingest.username, 'wrong')]),
      ).toMatchObject({ connack: 'Not authorized' });
      // Another operator's valid password beside the certificate: refused too (one identity a connection).
      expect(
        await publish(tlsPort, topicOf(opA), [...withCert(), ...login(opA, passwords[opA]!)]),
      ).toMatchObject({ connack: 'Not authorized' });
      // The certificate's own operator name beside it is the same identity: logs in.
      expect(
        await publish(tlsPort, topicOf(opCert), [...withCert(), ...login(opCert, 'not-its-password')]),
      ).toEqual({ connack: 'Success', puback: 'Success' });
    });

    it("keeps ingest's client ids from an operator certificate, even under ingest's user name", async () => {
      const clientId = `ondijon-ingest-${run}-tls`;
      const ingest = mqttAuth('ingest');
      const held = hold([...login(ingest.username, ingest.password), '--client-id', clientId]);
      await waitFor(() => held.lines.length > 0, { message: 'ingest connection up' });
      expect(held.lines[0]).toEqual({ connack: 'Success' });
      // Ingest's client id and user name, an operator's certificate: refused before the broker looks at the
      // session (the password module would refuse the password and the certificate module log in the operator).
      for (const password of ['wrong', ''])
        expect(
          await publish(tlsPort, topicOf(opCert), [
            ...withCert(),
            ...login(ingest.username, password),
            '--client-id',
            clientId,
          ]),
        ).toMatchObject({ connack: 'Not authorized' });
      // The ingest session was not taken over.
      expect(held.lines.some((l) => 'disconnected' in l)).toBe(false);
    }, 600_000);

    it('refuses a connection with neither certificate nor password, and accepts a password over TLS', async () => {
      expect(await publish(tlsPort, topicOf(opCert), ['--ca', mqttCaFile(config)])).toMatchObject({
        connack: 'Bad user name or password',
      });
      expect(
        await publish(tlsPort, topicOf(opA), ['--ca', mqttCaFile(config), ...login(opA, passwords[opA]!)]),
      ).toEqual({ connack: 'Success', puback: 'Success' });
    });

    it("fails the handshake without the stack's CA", async () => {
      const result = await publish(tlsPort, topicOf(opCert), ['--ca', '/etc/ssl/certs/ca-certificates.crt']);
      expect(String(result.connect_error)).toMatch(/CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
    });

    it('refuses the certificate once the operator is revoked', async () => {
      await revokeOperator(config, opCert, { actor });
      expect(await publish(tlsPort, topicOf(opCert), withCert())).toMatchObject({
        connack: 'Not authorized',
      });
    }, 600_000);

    it("puts the revoked certificate on the CA's CRL, which the broker applies even beside a valid password", async () => {
      // openssl reads the list: the certificate's serial is on it.
      const { stdout } = await execFileAsync('openssl', [
        'crl',
        '-in',
        mqttCrlFile(config),
        '-noout',
        '-text',
      ]);
      const listed = [...stdout.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) =>
        m[1]!.toUpperCase().replace(/^0+/, ''),
      );
      expect(listed).toContain(serial.toUpperCase().replace(/^0+/, ''));
      // The operator back with a password only: the old certificate is still refused, by the CRL (CONNACK
      // 0x87 not authorized, before the password is looked at), while the password alone logs in.
      const back = await addOperator(config, opCert, { actor });
      expect(
        await publish(tlsPort, topicOf(opCert), [...withCert(), ...login(opCert, back.password!)]),
      ).toMatchObject({ connack: 'Not authorized' });
      expect(
        await publish(tlsPort, topicOf(opCert), [
          '--ca',
          mqttCaFile(config),
          ...login(opCert, back.password!),
        ]),
      ).toEqual({ connack: 'Success', puback: 'Success' });
    }, 600_000);
  });

  it('wrote one hash-chained audit line per action, with who, what and when, and no secret', () => {
    const lines = readFileSync(operatorsAuditFile(config), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { at: string; actor: string; action: string; operator: string | null });
    const mine = lines.filter((l) => l.actor === actor);
    const actions = (op: string) => mine.filter((l) => l.operator === op).map((l) => l.action);
    expect(actions(opA)).toEqual(['add', 'rotate', 'expire', 'rotate']);
    expect(actions(opB)).toEqual(['add', 'revoke']);
    expect(actions(opCert)).toEqual(['add', 'revoke', 'add']);
    expect(lines.some((l) => l.operator === opA && l.action === 'expire')).toBe(true);
    for (const l of mine) expect(Number.isNaN(Date.parse(l.at))).toBe(false);
    expect(verifyAuditChain(config)).toBe(true);
    const text = readFileSync(operatorsAuditFile(config), 'utf8');
    for (const p of Object.values(passwords)) expect(text).not.toContain(p);
  });
});
