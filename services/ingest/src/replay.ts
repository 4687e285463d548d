import { telemetryTopicOfReplay } from '@ondijon/contracts';
import type { IncomingMessage } from './pipeline';

/** MQTT 5 user property naming the dead letter a replayed message comes from (its id is kept). */
export const REPLAY_OF_PROPERTY = 'ondijon-replay-of';
/** MQTT 5 user property carrying the replay count of a replayed message (previous `replays` + 1). */
export const REPLAYS_PROPERTY = 'ondijon-replays';

type UserProperties = Record<string, string | string[]> | undefined;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The pipeline's view of a received MQTT message. The replay properties are honoured only on the replay
 * tree (`{prefix}ondijon/replay/v1/…`, where the broker lets only the `replay` principal publish): the
 * message then stands for its telemetry topic and keeps the dead letter's id and replay count. On any
 * other topic they are ignored (`ignoredReplayProperties` says so, for the metric): a device cannot
 * choose a dead-letter id or a replay count.
 */
export function incomingMessage(
  topic: string,
  payload: Buffer,
  userProperties: UserProperties,
  mqttTopicPrefix: string,
): { msg: IncomingMessage; ignoredReplayProperties: boolean } {
  const replayOf = first(userProperties?.[REPLAY_OF_PROPERTY]);
  const replays = first(userProperties?.[REPLAYS_PROPERTY]);
  const telemetry = telemetryTopicOfReplay(topic, mqttTopicPrefix);
  if (telemetry === undefined)
    return {
      msg: { topic, payload },
      ignoredReplayProperties: replayOf !== undefined || replays !== undefined,
    };
  const count = Math.max(1, Math.trunc(Number(replays ?? '1')) || 1);
  return {
    msg: { topic: telemetry, payload, ...(replayOf ? { replayOf: { id: replayOf, replays: count } } : {}) },
    ignoredReplayProperties: false,
  };
}
