// TLS of the local MQTT broker (issue 12, item 1): a CA that the stack generates with Debian's openssl,
// a server certificate for 127.0.0.1/localhost, and client certificates whose CN is an operator code.
// Files (0600, folder 0700) under `.stack/secrets/mqtt-tls/`: ca.key, ca.crt, server.pem (key + chain,
// the broker's PEM key store). The CA key never leaves that folder; a client key only the folder it is
// written to for the operator.
import { execFile, execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { StackError, type StackConfig } from './config';
import { secretsDir } from './mqtt-principals';

const execFileAsync = promisify(execFile);

/** Folder of the broker's CA and server certificate. */
export function mqttTlsDir(config: Pick<StackConfig, 'dir'>): string {
  return path.join(secretsDir(config as StackConfig), 'mqtt-tls');
}

/** The CA certificate clients trust (PEM). */
export function mqttCaFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(mqttTlsDir(config), 'ca.crt');
}

/** The broker's key and certificate chain (PEM key store). */
export function mqttServerPemFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(mqttTlsDir(config), 'server.pem');
}

/** The certificate revocation list of the stack's CA (PEM), read by the broker's guard at each CONNECT. */
export function mqttCrlFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(mqttTlsDir(config), 'crl.pem');
}

/** A client certificate the CA revoked. */
export interface RevokedCertificate {
  /** Serial number, hexadecimal. */
  serial: string;
  /** Subject as the broker compares it, e.g. `CN=citelum, OU=cert-1a2b, O=OnDijon`. */
  subject: string;
  notAfter: string;
  revokedAt: string;
}

/** `YYMMDDHHMMSSZ`, the date format of openssl's CA database. */
function caDate(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/**
 * Writes the CA's certificate revocation list (`openssl ca -gencrl`, valid 30 days, renewed at every
 * change and every `pnpm stack up`) from the certificates revoked so far; nothing when the stack has no CA
 * yet (no certificate was ever issued). The CA database (`crl-index.txt`) is rewritten from `revoked` each
 * time, so the list is always exactly the state's.
 */
export function writeMqttCrl(config: Pick<StackConfig, 'dir'>, revoked: readonly RevokedCertificate[]): void {
  const dir = mqttTlsDir(config);
  if (!existsSync(path.join(dir, 'ca.key')) || !existsSync(path.join(dir, 'ca.crt'))) return;
  const index = revoked
    .map((r) => {
      // RFC 2253 order (CN first) back to openssl's `/O=…/OU=…/CN=…`.
      const subject = `/${r.subject.split(/,\s*/).reverse().join('/')}`;
      return `R\t${caDate(r.notAfter)}\t${caDate(r.revokedAt)}\t${r.serial.toUpperCase()}\tunknown\t${subject}`;
    })
    .join('\n');
  writeFileSync(path.join(dir, 'crl-index.txt'), index === '' ? '' : `${index}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'crl-index.txt.attr'), 'unique_subject = no\n', { mode: 0o600 });
  if (!existsSync(path.join(dir, 'crlnumber'))) writeFileSync(path.join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    path.join(dir, 'crl.cnf'),
    [
      '[ ca ]',
      'default_ca = ondijon',
      '[ ondijon ]',
      `database = ${path.join(dir, 'crl-index.txt')}`,
      `crlnumber = ${path.join(dir, 'crlnumber')}`,
      'default_md = sha256',
      'default_crl_days = 30',
      '',
    ].join('\n'),
  );
  const tmp = `${mqttCrlFile(config)}.${process.pid}.tmp`;
  try {
    execFileSync(
      'openssl',
      ['ca', '-gencrl', '-config', 'crl.cnf', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', tmp],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new StackError(`openssl ca -gencrl failed (${stderr.split('\n')[0]?.slice(0, 160) ?? ''}).`);
  }
  renameSync(tmp, mqttCrlFile(config));
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, timeout: 60_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new StackError(
        'openssl is not installed, and the MQTT broker needs it for its TLS certificates; install it (apt-get install -y openssl) and retry.',
      );
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new StackError(`openssl ${args[0]} failed (${stderr.split('\n')[0]?.slice(0, 160) ?? ''}).`);
  }
}

function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Creates the CA (10 years, EC P-256) and the server certificate (2 years, SAN 127.0.0.1, ::1,
 * localhost) once; idempotent. The server certificate is renewed when it expires within 30 days.
 */
export async function ensureMqttTls(config: Pick<StackConfig, 'dir'>): Promise<void> {
  const dir = mqttTlsDir(config);
  privateDir(dir);
  if (!existsSync(path.join(dir, 'ca.crt')) || !existsSync(path.join(dir, 'ca.key'))) {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
    await openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-sha256',
        '-days',
        '3650',
        '-subj',
        '/O=OnDijon/CN=OnDijon local MQTT CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-out',
        'ca.crt',
      ],
      dir,
    );
    rmSync(path.join(dir, 'server.pem'), { force: true });
  }
  const serverPem = path.join(dir, 'server.pem');
  const renew =
    !existsSync(serverPem) ||
    Date.parse(new X509Certificate(readFileSync(serverPem)).validTo) - Date.now() < 30 * 86_400_000;
  if (renew) {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key'], dir);
    // PKCS#8: the form Java's PEM key store reads.
    await openssl(['pkcs8', '-topk8', '-nocrypt', '-in', 'server.key', '-out', 'server.p8'], dir);
    await openssl(
      ['req', '-new', '-key', 'server.key', '-subj', '/O=OnDijon/CN=localhost', '-out', 'server.csr'],
      dir,
    );
    writeFileSync(
      path.join(dir, 'server.ext'),
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '730',
        '-sha256',
        '-extfile',
        'server.ext',
        '-out',
        'server.crt',
      ],
      dir,
    );
    const pem = `${readFileSync(path.join(dir, 'server.p8'), 'utf8')}${readFileSync(path.join(dir, 'server.crt'), 'utf8')}${readFileSync(path.join(dir, 'ca.crt'), 'utf8')}`;
    writeFileSync(serverPem, pem, { mode: 0o600 });
    for (const f of ['server.key', 'server.p8', 'server.csr', 'server.ext'])
      rmSync(path.join(dir, f), { force: true });
  }
  for (const f of ['ca.key', 'server.pem', 'server.crt'])
    if (existsSync(path.join(dir, f))) chmodSync(path.join(dir, f), 0o600);
}

/** A client certificate just issued. */
export interface IssuedCertificate {
  serial: string;
  /** Subject as the broker matches it (RFC 2253). */
  subject: string;
  sha256: string;
  notAfter: string;
  /** Where the key, the certificate and the CA were written. */
  files: { key: string; cert: string; ca: string };
}

/**
 * Issues a client certificate for an operator (CN = operator code; an OU naming the certificate so that
 * two certificates of one operator are told apart), signed by the stack's CA, valid `days` days. Writes
 * `<operator>.key` (0600), `<operator>.crt` and `ca.crt` into `outDir` (0700).
 */
export async function issueClientCertificate(
  config: Pick<StackConfig, 'dir'>,
  operator: string,
  outDir: string,
  days = 397,
): Promise<IssuedCertificate> {
  await ensureMqttTls(config);
  const tls = mqttTlsDir(config);
  privateDir(outDir);
  const tag = `cert-${Date.now().toString(36)}`;
  const key = path.join(outDir, `${operator}.key`);
  const cert = path.join(outDir, `${operator}.crt`);
  const csr = path.join(outDir, `${operator}.csr`);
  const ext = path.join(outDir, `${operator}.ext`);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], outDir);
  chmodSync(key, 0o600);
  await openssl(
    ['req', '-new', '-key', key, '-subj', `/O=OnDijon/OU=${tag}/CN=${operator}`, '-out', csr],
    outDir,
  );
  writeFileSync(ext, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      path.join(tls, 'ca.crt'),
      '-CAkey',
      path.join(tls, 'ca.key'),
      '-CAserial',
      path.join(tls, 'ca.srl'),
      '-CAcreateserial',
      '-days',
      String(days),
      '-sha256',
      '-extfile',
      ext,
      '-out',
      cert,
    ],
    outDir,
  );
  rmSync(csr, { force: true });
  rmSync(ext, { force: true });
  const ca = path.join(outDir, 'ca.crt');
  writeFileSync(ca, readFileSync(path.join(tls, 'ca.crt')));
  const x509 = new X509Certificate(readFileSync(cert));
  return {
    serial: x509.serialNumber,
    // As Artemis compares it: X509Certificate.getSubjectDN().getName(), attributes joined by ", ".
    subject: `CN=${operator}, OU=${tag}, O=OnDijon`,
    sha256: createHash('sha256').update(x509.raw).digest('hex'),
    notAfter: new Date(x509.validTo).toISOString(),
    files: { key, cert, ca },
  };
}
