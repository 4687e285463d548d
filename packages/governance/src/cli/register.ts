// Writes docs/governance/register.md, the governance officer's readable register, from the policy
// and the contracts. Run by `pnpm contracts:export`, or alone: `tsx packages/governance/src/cli/register.ts [policy.yaml]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '../policy';
import { renderRegister } from '../register';

const policy = loadPolicy(process.argv[2]);
const out = fileURLToPath(new URL('../../../../docs/governance/register.md', import.meta.url));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, renderRegister(policy));
console.log(`wrote ${out} (policy ${policy.revision})`);
