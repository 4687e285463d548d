// The generated parts of docs/security.md: the Kafka access matrix and ACL bindings (from the topic
// registry, @ondijon/contracts) and the Redis users (from secrets.ts). `pnpm security:export` writes
// them between the markers; a unit test keeps the committed file in step.
import {
  KAFKA_PRINCIPALS,
  accessMatrixMarkdown,
  kafkaAclBindings,
  kafkaPrincipals,
} from '@ondijon/contracts';
import { REDIS_USERS } from './secrets';

const section = (name: string) => ({
  begin: `<!-- BEGIN GENERATED ${name} (pnpm security:export) -->`,
  end: `<!-- END GENERATED ${name} -->`,
});

/** The generated sections of docs/security.md, by name. */
export function securityDocSections(): Record<string, string> {
  const bindings = kafkaAclBindings('');
  const principals = [
    '| principal | what it is |',
    '|---|---|',
    ...kafkaPrincipals.map((p) => `| \`${p}\` | ${KAFKA_PRINCIPALS[p].description} |`),
  ].join('\n');
  const acls = [
    '```',
    ...bindings.map(
      (b) =>
        `ALLOW ${b.principal.padEnd(16)} ${b.operation.padEnd(6)} ${b.resourceType} ${b.patternType.padEnd(8)} ${b.resourceName}`,
    ),
    '```',
  ].join('\n');
  const redis = [
    '| user | keys | commands |',
    '|---|---|---|',
    '| `default` | — | disabled (`off`): unauthenticated clients get `NOAUTH` |',
    ...Object.entries(REDIS_USERS).map(
      ([user, spec]) =>
        `| \`${user}\` | ${spec.keys.map((k) => `\`${k}\``).join(', ')} | ${spec.commands === null ? 'all (`+@all`)' : spec.commands.map((c) => `\`${c.replace('|', '\\|')}\``).join(' ')} |`,
    ),
  ].join('\n');
  return {
    'kafka-principals': principals,
    'kafka-matrix': accessMatrixMarkdown(),
    'kafka-acls': `${bindings.length} bindings for the production namespace (\`''\`); a run's namespace \`<run>.\` has the same with its prefix on every topic name.\n\n${acls}`,
    'redis-users': redis,
  };
}

/** `text` with every generated section replaced by its current content; throws on a missing marker. */
export function updateSecurityDoc(text: string): string {
  let out = text;
  for (const [name, body] of Object.entries(securityDocSections())) {
    const { begin, end } = section(name);
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`docs/security.md lacks the markers of section ${name}`);
    out = `${out.slice(0, i + begin.length)}\n${body}\n${out.slice(j)}`;
  }
  return out;
}
