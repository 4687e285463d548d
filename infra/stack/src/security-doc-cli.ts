// `pnpm security:export`: rewrites the generated sections of docs/security.md (access matrix, ACLs,
// Redis users). Also run by `pnpm contracts:export`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './config';
import { updateSecurityDoc } from './security-doc';

const file = path.join(repoRoot, 'docs', 'security.md');
const before = readFileSync(file, 'utf8');
const after = updateSecurityDoc(before);
writeFileSync(file, after);
console.log(`${before === after ? 'unchanged' : 'updated'}: ${file}`);
