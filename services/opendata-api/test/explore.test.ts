import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '@ondijon/opendata';
import { ExploreError, ExploreRecords, type OpendataApiApp } from '../src/index';
import { LIGHTING, fixtureApp } from './fixture';

// Explore v2.1 group_by, aggregates, refine/exclude and parameter strictness, checked against the
// rows themselves (the full export) rather than against hand-written numbers.

let app: OpendataApiApp;
let cleanup: () => Promise<void>;
let all: Record<string, string | number | boolean | null>[];
beforeAll(async () => {
  ({ app, cleanup } = await fixtureApp());
  all = (await app.server.inject({ url: `${ds}/exports/json` })).json();
});
afterAll(async () => cleanup());

const ds = `/api/explore/v2.1/catalog/datasets/${LIGHTING}`;
const enc = encodeURIComponent;
const records = async (qs: string) => {
  const res = await app.server.inject({ url: `${ds}/records?${qs}` });
  expect(res.statusCode, res.body).toBe(200);
  return ExploreRecords.parse(res.json());
};
const fail = async (url: string, code: string, mention: string) => {
  const res = await app.server.inject({ url });
  expect(res.statusCode, res.body).toBe(400);
  const body = ExploreError.parse(res.json());
  expect(body.error_code).toBe(code);
  expect(body.message).toContain(mention);
};

describe('Explore group_by and aggregates', () => {
  it('count(*), sum, avg, min, max per group, with aliases, ordered by an aggregate', async () => {
    const res = await records(
      `select=${enc('commune, count(*) as n, sum(energy_kwh) as kwh, avg(energy_kwh) as mean, min(energy_kwh), max(period_start) as last')}&group_by=commune&order_by=${enc('kwh desc')}&limit=100`,
    );
    const communes = [...new Set(all.map((r) => r.commune))];
    expect(res.total_count).toBe(communes.length);
    expect(res.results).toHaveLength(communes.length);
    for (const g of res.results) {
      expect(Object.keys(g)).toEqual(['commune', 'n', 'kwh', 'mean', 'min(energy_kwh)', 'last']);
      const mine = all.filter((r) => r.commune === g.commune);
      const kwh = mine.map((r) => r.energy_kwh).filter((x): x is number => typeof x === 'number');
      expect(g.n).toBe(mine.length);
      expect(g.kwh).toBeCloseTo(
        kwh.reduce((a, b) => a + b, 0),
        6,
      );
      expect(g.mean).toBeCloseTo(kwh.reduce((a, b) => a + b, 0) / kwh.length, 6);
      expect(g['min(energy_kwh)']).toBe(Math.min(...kwh));
      const last = mine.map((r) => r.period_start as string).sort((a, b) => Date.parse(b) - Date.parse(a))[0];
      expect(g.last).toBe(last);
    }
    const sums = res.results.map((g) => g.kwh as number);
    expect(sums).toEqual([...sums].sort((a, b) => b - a));
  });

  it('aggregates without group_by answer one row over the matches; where applies first', async () => {
    const res = await records(
      `select=${enc('count(*) as n, max(energy_kwh) as top')}&where=${enc('commune = "21231"')}`,
    );
    const mine = all.filter((r) => r.commune === '21231');
    expect(res.total_count).toBe(1);
    expect(res.results).toEqual([
      {
        n: mine.length,
        top: Math.max(...mine.map((r) => r.energy_kwh).filter((x): x is number => typeof x === 'number')),
      },
    ]);
  });

  it('group_by alone lists the groups; limit and offset page them; exports aggregate too', async () => {
    const res = await records('group_by=status&order_by=status&limit=2&offset=1');
    const statuses = [...new Set(all.map((r) => r.status as string))].sort();
    expect(res.total_count).toBe(statuses.length);
    expect(res.results).toEqual(statuses.slice(1, 3).map((status) => ({ status })));
    const csv = (
      await app.server.inject({
        url: `${ds}/exports/csv?select=${enc('status, count(*) as n')}&group_by=status&delimiter=,`,
      })
    ).body;
    const parsed = parseCsv(csv);
    expect(parsed[0]).toEqual(['status', 'n']);
    expect(parsed.slice(1).reduce((a, r) => a + Number(r[1]), 0)).toBe(all.length);
  });

  it('rejects what it does not implement, naming it', async () => {
    await fail(
      `${ds}/records?select=${enc('commune, energy_kwh')}&group_by=commune`,
      'ODSQLError',
      'energy_kwh',
    );
    await fail(
      `${ds}/records?select=${enc('percentile(energy_kwh, 50)')}`,
      'ODSQLError',
      'unsupported expression',
    );
    await fail(`${ds}/records?group_by=${enc('year(period_start)')}`, 'ODSQLError', 'group by fields');
    await fail(`${ds}/records?select=${enc('sum(commune)')}`, 'ODSQLError', 'not numeric');
    await fail(`${ds}/records?group_by=commune&order_by=energy_kwh`, 'ODSQLError', 'energy_kwh');
  });
});

describe('Explore refine and exclude', () => {
  it('refine=field:value keeps, exclude=field:value drops; several are ANDed', async () => {
    const r = await records(`refine=${enc('commune:21231')}&limit=100`);
    expect(r.total_count).toBe(all.filter((x) => x.commune === '21231').length);
    expect(r.results.every((x) => x.commune === '21231')).toBe(true);
    const both = await records(`refine=${enc('commune:21231')}&exclude=${enc('status:value')}&limit=100`);
    expect(both.total_count).toBe(all.filter((x) => x.commune === '21231' && x.status !== 'value').length);
    const none = await records(`refine=${enc('commune:21231')}&refine=${enc('commune:21003')}`);
    expect(none.total_count).toBe(0);
  });

  it('a datetime facet takes a year, month or day (UTC)', async () => {
    const day = await records(`refine=${enc('period_start:2026/11/27')}&limit=1`);
    expect(day.total_count).toBe(all.filter((x) => String(x.period_start).startsWith('2026-11-27')).length);
    expect(day.total_count).toBeGreaterThan(0);
    expect((await records(`refine=${enc('period_start:2026/11')}`)).total_count).toBe(all.length);
    expect((await records(`refine=${enc('period_start:2025')}`)).total_count).toBe(0);
  });

  it('400 for an unknown facet field or a malformed value', async () => {
    await fail(`${ds}/records?refine=${enc('colour:red')}`, 'InvalidRESTParameterError', 'colour');
    await fail(`${ds}/records?refine=commune`, 'InvalidRESTParameterError', 'field:value');
    await fail(
      `${ds}/records?exclude=${enc('period_start:yesterday')}`,
      'InvalidRESTParameterError',
      'period_start',
    );
  });
});

describe('Explore parameters are never ignored', () => {
  it.each([
    [`${ds}/records?lang=fr`, 'lang'],
    [`${ds}/records?include_links=true`, 'include_links'],
    [`${ds}/records?colour=red`, 'colour'],
    [`${ds}/records?timezone=Europe/Paris`, 'timezone'],
    [`${ds}/exports/csv?with_bom=true`, 'with_bom'],
    ['/api/explore/v2.1/catalog/datasets?refine=theme:TRAN', 'refine'],
    ['/api/explore/v2.1/catalog/datasets?group_by=theme', 'group_by'],
    [`${ds}?select=title`, 'select'],
  ])('%s answers 400 naming "%s"', async (url, name) => {
    await fail(url, 'InvalidRESTParameterError', `"${name}"`);
  });

  it('timezone=UTC is accepted (datetimes are already served in UTC with their offset)', async () => {
    expect((await records('timezone=UTC&limit=1')).results).toHaveLength(1);
  });
});
