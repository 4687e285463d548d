import { describe, expect, it } from 'vitest';
import { DeadLetter } from '@ondijon/contracts';
import {
  deadLetterPrivateKey,
  deadLetterPublicKey,
  newDeadLetterKeyPair,
  openDeadLetter,
  sealDeadLetter,
  withoutFragments,
} from '../src/seal';

const agent = 'agent-unit-secret-3';
const payload = Buffer.from(JSON.stringify({ seq: 1, agentId: agent }));
const letter: DeadLetter = {
  id: 'letter-1',
  code: 'ONDIJON_SCHEMA_INVALID',
  reason: `agentId: Invalid option: "${agent}" is not allowed`,
  issues: [{ path: 'agentId', message: `"${agent}" is not allowed`, code: 'invalid_value' }],
  origin: 'mqtt',
  mqttTopic: 'ondijon/v1/winter-vehicle/dijon-metropole/WV-1',
  payloadBase64: payload.toString('base64'),
  payloadBytes: payload.length,
  payloadSha256: 'x',
  sensitivity: 'S3',
  receivedAt: '2026-12-06T10:00:00.000Z',
  rejectedBy: 'ingest',
  replays: 0,
};

describe('dead-letter sealing', () => {
  const keys = newDeadLetterKeyPair();
  const publicKey = deadLetterPublicKey(keys.publicKey);
  const privateKey = deadLetterPrivateKey(keys.privateKey);

  it('keeps nothing of the payload in clear and opens back to the original with the private key', () => {
    const sealed = sealDeadLetter(letter, publicKey);
    const text = JSON.stringify(sealed);
    expect(text).not.toContain(agent);
    expect(text).not.toContain(letter.payloadBase64!);
    expect(DeadLetter.parse(sealed)).toEqual(sealed);
    expect(sealed.payloadBase64).toBeNull();
    expect(sealed.reason).toBe('agentId: Invalid option: "…" is not allowed');
    expect(openDeadLetter(sealed, privateKey)).toEqual(letter);
  });

  it('refuses another key and a tampered letter', () => {
    const sealed = sealDeadLetter(letter, publicKey);
    const other = deadLetterPrivateKey(newDeadLetterKeyPair().privateKey);
    expect(() => openDeadLetter(sealed, other)).toThrow(/sealed to key/);
    // The id is authenticated: a sealed box moved to another letter does not open.
    expect(() => openDeadLetter({ ...sealed, id: 'letter-2' }, privateKey)).toThrow();
  });

  it('removes quoted fragments', () => {
    expect(withoutFragments(`Unexpected token 'a', "agent-seal"... is not valid JSON`)).toBe(
      `Unexpected token '…', "…"... is not valid JSON`,
    );
  });
});
