// Asks a running publisher to publish every due period now: `pnpm --filter @ondijon/publisher publish-now [--dataset id] [--day YYYY-MM-DD]`.
// The admin bearer token comes from PUBLISHER_ADMIN_TOKEN or PUBLISHER_ADMIN_TOKEN_FILE.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    day: { type: 'string' },
    url: { type: 'string', default: `http://127.0.0.1:${process.env.PUBLISHER_PORT ?? '19403'}` },
  },
});
const query = new URLSearchParams();
if (values.dataset) query.set('dataset', values.dataset);
if (values.day) query.set('day', values.day);
const file = process.env.PUBLISHER_ADMIN_TOKEN_FILE;
const token = process.env.PUBLISHER_ADMIN_TOKEN || (file ? readFileSync(file, 'utf8').trim() : '');
const res = await fetch(`${values.url}/publish-now?${query.toString()}`, {
  method: 'POST',
  headers: token ? { authorization: `Bearer ${token}` } : {},
});
const body = await res.text();
console.log(body);
if (!res.ok) process.exit(1);
const { outcomes } = JSON.parse(body) as { outcomes: { outcome: string }[] };
if (outcomes.some((o) => o.outcome === 'blocked')) process.exit(2);
