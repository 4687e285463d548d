import { EXCLUDED_SOURCE_FAMILIES, Family } from './families';

/** Root of every OnDijon MQTT topic, with the grammar version. */
export const MQTT_TOPIC_ROOT = 'ondijon/v1';

/** Operator segment: the organisation running the equipment (lower-case slug). */
export const OPERATOR_PATTERN = /^[a-z0-9][a-z0-9-]{1,47}$/;
/** Equipment id segment. */
export const EQUIPMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$/;

/** Filter of everything ingest reads (without the shared-subscription prefix). */
export const TELEMETRY_FILTER = `${MQTT_TOPIC_ROOT}/#`;

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
