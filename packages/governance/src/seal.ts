// Sealing of ingest dead letters (docs/security.md "Dead letters"): what may quote the payload is
// encrypted to the replay tool's X25519 public key; ingest holds only that public key.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DeadLetter } from '@ondijon/contracts';

const ALG = 'X25519-HKDF-SHA256-A256GCM';
const INFO = Buffer.from('ondijon dead letter v1');

/** What a sealed letter keeps encrypted. */
interface SealedContent {
  payloadBase64: string | null;
  payloadHeadBase64?: string;
  reason: string;
  issues?: DeadLetter['issues'];
}

/** Key id: first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** An X25519 public key from PEM. */
export function deadLetterPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'x25519') throw new Error('the dead-letter public key must be an X25519 key');
  return key;
}

/** An X25519 private key from PEM. */
export function deadLetterPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'x25519')
    throw new Error('the dead-letter private key must be an X25519 key');
  return key;
}

/**
 * The replay tool's private key from the environment: `ONDIJON_DEAD_LETTER_PRIVATE_KEY` (PEM) or
 * `ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE`; undefined when neither is set.
 */
export function privateKeyFromEnv(env: NodeJS.ProcessEnv = process.env): KeyObject | undefined {
  // An empty value counts as unset.
  const file = env.ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE;
  const pem = env.ONDIJON_DEAD_LETTER_PRIVATE_KEY || (file ? readFileSync(file, 'utf8') : undefined);
  return pem ? deadLetterPrivateKey(pem) : undefined;
}

/** A new key pair, PEM (SPKI public, PKCS#8 private). */
export function newDeadLetterKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('x25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function contentKey(shared: Buffer, epk: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, epk, INFO, 32));
}

/** Text with every quoted fragment (`"…"`, `'…'`) and anything after a colon-quoted JSON error removed. */
export function withoutFragments(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/'(?:[^'\\]|\\.)*'/g, "'…'");
}

/** A reason safe to keep in clear: codes whose reason quotes the payload or an error keep a fixed text. */
function clearReason(letter: DeadLetter): string {
  switch (letter.code) {
    case 'ONDIJON_PAYLOAD_NOT_JSON':
      return 'payload is not UTF-8 JSON (details sealed)';
    case 'ONDIJON_PROCESSOR_FAILED':
      return 'ingest failed on the message (details sealed)';
    default:
      return letter.code.startsWith('ONDIJON_POLICY')
        ? 'policy could not be applied (details sealed)'
        : withoutFragments(letter.reason);
  }
}

/**
 * The letter as written to Kafka: payload, first bytes, full reason and issue messages sealed; `reason`
 * and issue messages without quoted fragments. A letter with no payload kept stays readable as is
 * (its reason is still scrubbed).
 */
export function sealDeadLetter(letter: DeadLetter, publicKey: KeyObject): DeadLetter {
  const content: SealedContent = {
    payloadBase64: letter.payloadBase64,
    ...(letter.payloadHeadBase64 !== undefined ? { payloadHeadBase64: letter.payloadHeadBase64 } : {}),
    reason: letter.reason,
    ...(letter.issues ? { issues: letter.issues } : {}),
  };
  const ephemeral = generateKeyPairSync('x25519');
  const epk = ephemeral.publicKey.export({ type: 'spki', format: 'der' });
  const key = contentKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey }), epk);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(letter.id));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
  const { payloadHeadBase64: _head, ...rest } = letter;
  return {
    ...rest,
    reason: clearReason(letter),
    ...(letter.issues
      ? { issues: letter.issues.map((i) => ({ ...i, message: withoutFragments(i.message) })) }
      : {}),
    payloadBase64: null,
    sealed: {
      alg: ALG,
      keyId: keyIdOf(publicKey),
      epk: epk.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    },
  };
}

/** The letter as ingest saw it (payload, reason, issues), when sealed; as is otherwise. Throws on a wrong key. */
export function openDeadLetter(letter: DeadLetter, privateKey: KeyObject): DeadLetter {
  const s = letter.sealed;
  if (s === undefined) return letter;
  const publicKey = createPublicKey(privateKey);
  if (keyIdOf(publicKey) !== s.keyId)
    throw new Error(`dead letter ${letter.id} is sealed to key ${s.keyId}, not ${keyIdOf(publicKey)}`);
  const epk = Buffer.from(s.epk, 'base64');
  const key = contentKey(
    diffieHellman({ privateKey, publicKey: createPublicKey({ key: epk, format: 'der', type: 'spki' }) }),
    epk,
  );
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
  decipher.setAAD(Buffer.from(letter.id));
  decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
  const content = JSON.parse(
    Buffer.concat([decipher.update(Buffer.from(s.ciphertext, 'base64')), decipher.final()]).toString('utf8'),
  ) as SealedContent;
  const { sealed: _sealed, issues: _issues, ...rest } = letter;
  return { ...rest, ...content };
}
