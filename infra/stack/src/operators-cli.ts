// `pnpm operators add|list|rotate|revoke|expire` — MQTT operator credentials of the local broker
// (docs/security.md "MQTT operators"). Acts on the stack of ONDIJON_STACK_DIR (default .stack).
import { parseArgs } from 'node:util';
import { StackError, resolveConfig } from './config';
import {
  addOperator,
  expireOperators,
  listOperators,
  parseGrace,
  revokeOperator,
  rotateOperator,
  type IssuedCredentials,
} from './operators-commands';

const usage = `usage: pnpm operators <command> [<operator>] [options]

commands:
  add <operator>      new operator: a password (printed once, stored only hashed) and/or a client certificate
  list                operators and the state of their credentials (no secret)
  rotate <operator>   new credentials; the previous ones keep working for the grace window
  revoke <operator>   remove every credential and close the operator's live connections
  expire              remove credentials whose grace window has ended (also done by every command)

options:
  --cert                 issue a client certificate (CN = operator) for the TLS listener
  --no-password          certificate only (with --cert)
  --password-file <f>    write the password to this file (0600) instead of printing it
  --cert-dir <dir>       where the certificate's key, certificate and CA go (default .stack/secrets/mqtt-clients/<operator>)
  --grace <d>            rotate: how long the previous credentials keep working (30s, 10m, 24h, 7d; default 24h; 0s = none)
  --actor <who>          who acts, for the audit log (default ONDIJON_ACTOR or <user>@<host>)
  --json                 machine-readable output`;

function printIssued(action: string, issued: IssuedCredentials): void {
  console.log(`${action} ${issued.operator}`);
  if (issued.password !== undefined) {
    console.log('password (shown once; only its hash is kept):');
    console.log(issued.password);
  }
  if (issued.passwordFile !== undefined) console.log(`password written to ${issued.passwordFile} (0600)`);
  if (issued.certificate !== undefined) {
    const c = issued.certificate;
    console.log(`client certificate serial ${c.serial}, valid until ${c.notAfter}, subject ${c.subject}`);
    console.log(`  key ${c.files.key} (0600), certificate ${c.files.cert}, CA ${c.files.ca}`);
  }
  if (issued.graceUntil !== undefined) console.log(`previous credentials work until ${issued.graceUntil}`);
  console.log(
    issued.management.reached
      ? 'broker: configuration reloaded'
      : 'broker: not running (the files are ready for its next start)',
  );
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      cert: { type: 'boolean' },
      'no-password': { type: 'boolean' },
      'password-file': { type: 'string' },
      'cert-dir': { type: 'string' },
      grace: { type: 'string' },
      actor: { type: 'string' },
      wait: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, operator] = positionals;
  if (values.help || command === undefined) {
    console.log(usage);
    return values.help ? 0 : 1;
  }
  const config = resolveConfig({ externalMqtt: undefined });
  const common = { ...(values.actor !== undefined ? { actor: values.actor } : {}) };
  const issue = {
    ...common,
    ...(values.cert !== undefined ? { cert: values.cert } : {}),
    ...(values['no-password'] !== undefined ? { noPassword: values['no-password'] } : {}),
    ...(values['password-file'] !== undefined ? { passwordFile: values['password-file'] } : {}),
    ...(values['cert-dir'] !== undefined ? { certDir: values['cert-dir'] } : {}),
  };
  const needOperator = () => {
    if (operator === undefined) throw new StackError(`pnpm operators ${command} needs an operator code.`);
    return operator;
  };
  switch (command) {
    case 'add': {
      const issued = await addOperator(config, needOperator(), issue);
      if (values.json) console.log(JSON.stringify(issued, null, 2));
      else printIssued('added', issued);
      return 0;
    }
    case 'rotate': {
      const grace =
        values.grace === undefined ? undefined : values.grace === '0' ? 0 : parseGrace(values.grace);
      const issued = await rotateOperator(config, needOperator(), {
        ...issue,
        ...(grace !== undefined ? { graceMs: grace } : {}),
      });
      if (values.json) console.log(JSON.stringify(issued, null, 2));
      else printIssued('rotated', issued);
      return 0;
    }
    case 'revoke': {
      const { management } = await revokeOperator(config, needOperator(), common);
      if (values.json) console.log(JSON.stringify({ operator, management }, null, 2));
      else
        console.log(
          `revoked ${operator}: credentials removed; the broker's guard refuses it and closes its live connections; management ${
            management.reached
              ? `closeConnectionsForUser: ${management.results.closeConnectionsForUser === 'true' ? 'closed some' : 'none left'}`
              : 'error' in management
                ? `not reached (${String(management.error)})`
                : 'not reached (broker not running)'
          }`,
        );
      return 0;
    }
    case 'list': {
      const rows = await listOperators(config, common);
      if (values.json) {
        console.log(JSON.stringify(rows, null, 2));
        return 0;
      }
      const lines = [
        ['OPERATOR', 'SOURCE', 'STATUS', 'PASSWORD', 'GRACE UNTIL', 'CERTIFICATE', 'CERT GRACE UNTIL'],
        ...rows.map((r) => [
          r.operator,
          r.source,
          r.status,
          r.password === 'set' ? `set ${r.passwordIssuedAt?.slice(0, 19) ?? ''}` : 'none',
          r.graceUntil?.slice(0, 19) ?? '-',
          r.certificate
            ? `serial ${r.certificate.serial.slice(0, 12)}… until ${r.certificate.notAfter.slice(0, 10)}`
            : '-',
          r.certificateGraceUntil?.slice(0, 19) ?? '-',
        ]),
      ];
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      for (const l of lines)
        console.log(
          l
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
      return 0;
    }
    case 'expire': {
      const { expired } = await expireOperators(config, {
        ...common,
        ...(values.wait ? { wait: true } : {}),
      });
      console.log(expired.length === 0 ? 'nothing expired' : `expired: ${expired.join(', ')}`);
      return 0;
    }
    default:
      console.error(usage);
      return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof StackError ? error.message : error);
    process.exit(1);
  },
);
