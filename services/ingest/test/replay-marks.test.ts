import { describe, expect, it } from 'vitest';
import { incomingMessage } from '../src/replay';

const agent = 'agent-unit-secret-3';
const payload = Buffer.from(JSON.stringify({ seq: 1, agentId: agent }));
describe('replay marks', () => {
  const props = { 'ondijon-replay-of': 'spoofed-dead-letter-id', 'ondijon-replays': '999' };

  it('are ignored on telemetry topics', () => {
    const topic = 't/x/ondijon/v1/streetlight/citelum/SL-1';
    expect(incomingMessage(topic, payload, props, 't/x/')).toEqual({
      msg: { topic, payload },
      ignoredReplayProperties: true,
    });
    expect(incomingMessage(topic, payload, undefined, 't/x/').ignoredReplayProperties).toBe(false);
  });

  it('are honoured on the replay tree, which stands for the telemetry topic', () => {
    expect(incomingMessage('t/x/ondijon/replay/v1/streetlight/citelum/SL-1', payload, props, 't/x/')).toEqual(
      {
        msg: {
          topic: 't/x/ondijon/v1/streetlight/citelum/SL-1',
          payload,
          replayOf: { id: 'spoofed-dead-letter-id', replays: 999 },
        },
        ignoredReplayProperties: false,
      },
    );
  });
});
