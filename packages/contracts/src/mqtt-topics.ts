import { EXCLUDED_SOURCE_FAMILIES, Family } from './families';

/** Root of every OnDijon MQTT topic, with the grammar version. */
export const MQTT_TOPIC_ROOT = 'ondijon/v1';

/** Operator segment: the organisation running the equipment (lower-case slug). */
export const OPERATOR_PATTERN = /^[a-z0-9][a-z0-9-]{1,47}$/;
/** Equipment id segment. */
export const EQUIPMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$/;

/** Filter of everything ingest reads (without the shared-subscription prefix). */
export const TELEMETRY_FILTER = `${MQTT_TOPIC_ROOT}/#`;

/**
 * Root of the replay tree: the dead-letter replay tool (the `replay` MQTT principal, alone allowed to
 * publish there) republishes `ondijon/v1/{family}/{operator}/{id}` as
 * `ondijon/replay/v1/{family}/{operator}/{id}`. Ingest honours the replay user properties
 * (`ondijon-replay-of`, `ondijon-replays`) only on this tree and ignores them on telemetry topics.
 */
export const MQTT_REPLAY_ROOT = 'ondijon/replay/v1';

/** Filter of the replay tree (without the shared-subscription prefix). */
export const REPLAY_FILTER = `${MQTT_REPLAY_ROOT}/#`;

/**
 * The replay topic of a telemetry topic (both after any test prefix `prefix`), or undefined when
 * `topic` is not under `{prefix}ondijon/v1/`.
 */
export function replayTopicOf(topic: string, prefix = ''): string | undefined {
  const root = `${prefix}${MQTT_TOPIC_ROOT}/`;
  return topic.startsWith(root) ? `${prefix}${MQTT_REPLAY_ROOT}/${topic.slice(root.length)}` : undefined;
}

/** The telemetry topic a replay topic stands for, or undefined when `topic` is not under `{prefix}ondijon/replay/v1/`. */
export function telemetryTopicOfReplay(topic: string, prefix = ''): string | undefined {
  const root = `${prefix}${MQTT_REPLAY_ROOT}/`;
  return topic.startsWith(root) ? `${prefix}${MQTT_TOPIC_ROOT}/${topic.slice(root.length)}` : undefined;
}

/** Shared subscription of the ingest group: every ingest connection joins it, each message goes to one. */
export function ingestSharedSubscription(group = 'ingest'): string {
  return `$share/${group}/${TELEMETRY_FILTER}`;
}

/** The MQTT topic an equipment publishes its telemetry on (`family` is a Family, or an excluded source in tests). */
export function telemetryTopic(family: string, operator: string, equipmentId: string): string {
  return `${MQTT_TOPIC_ROOT}/${family}/${operator}/${equipmentId}`;
}

/** The ACL pattern that confines an operator to its own prefix (Mosquitto `pattern`/`topic` lines). */
export function operatorAclPattern(operator: string): string {
  return `${MQTT_TOPIC_ROOT}/+/${operator}/#`;
}

/** A parsed telemetry topic. */
export type ParsedTopic =
  | { kind: 'telemetry'; family: Family; operator: string; equipmentId: string }
  | { kind: 'excluded'; source: string; operator: string; equipmentId: string }
  | { kind: 'invalid'; reason: string };

/** Parses `ondijon/v1/{family}/{operator}/{equipmentId}`; says precisely what is wrong otherwise. */
export function parseTelemetryTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  if (parts.length !== 5) {
    return {
      kind: 'invalid',
      reason: `topic has ${parts.length} levels, expected 5: ${MQTT_TOPIC_ROOT}/{family}/{operator}/{equipmentId}`,
    };
  }
  const [root, version, family, operator, equipmentId] = parts as [string, string, string, string, string];
  if (`${root}/${version}` !== MQTT_TOPIC_ROOT)
    return { kind: 'invalid', reason: `topic must start with ${MQTT_TOPIC_ROOT}/` };
  if (!OPERATOR_PATTERN.test(operator))
    return { kind: 'invalid', reason: `operator segment "${operator}" is not a lower-case slug` };
  if (!EQUIPMENT_ID_PATTERN.test(equipmentId))
    return { kind: 'invalid', reason: 'equipment id segment is not a valid id' };
  if ((EXCLUDED_SOURCE_FAMILIES as readonly string[]).includes(family)) {
    return { kind: 'excluded', source: family, operator, equipmentId };
  }
  const f = Family.safeParse(family);
  if (!f.success)
    return {
      kind: 'invalid',
      reason: `unknown family "${family}" (expected one of ${Family.options.join(', ')})`,
    };
  return { kind: 'telemetry', family: f.data, operator, equipmentId };
}
