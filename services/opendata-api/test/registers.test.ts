import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreWriter } from '@ondijon/opendata';
import type { OpendataApiApp } from '../src/index';
import { fixtureApp } from './fixture';

// The public registers the publisher writes (privacy-budget, data-uses) are served over HTTP and
// described in the DCAT catalogue as datasets of their own.

let app: OpendataApiApp;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  let dir: string;
  ({ app, cleanup, dir } = await fixtureApp());
  await createStoreWriter(dir).updateRegister('data-uses', { uses: [{ id: 'lighting-energy' }] });
});
afterAll(async () => cleanup());

describe('public registers', () => {
  it('lists them and serves each as JSON with a strong ETag; 404 for an unknown one', async () => {
    const list = (await app.server.inject({ url: '/registers' })).json();
    expect(list.registers.map((r: { name: string }) => r.name)).toEqual(['data-uses', 'privacy-budget']);
    const res = await app.server.inject({ url: '/registers/data-uses.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ uses: [{ id: 'lighting-energy' }] });
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
    const again = await app.server.inject({
      url: '/registers/data-uses.json',
      headers: { 'if-none-match': res.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
    expect((await app.server.inject({ url: '/registers/nope.json' })).statusCode).toBe(404);
    expect((await app.server.inject({ url: '/registers/..%2Fcatalog.json' })).statusCode).toBe(404);
  });

  it('each register is a dcat:Dataset with a JSON distribution pointing at it', async () => {
    const g = (await app.server.inject({ url: '/catalog.jsonld' })).json()['@graph'] as Record<
      string,
      unknown
    >[];
    const catalog = g.find((n) => n['@type'] === 'dcat:Catalog')!;
    const listed = ([] as { '@id': string }[])
      .concat(catalog['dcat:dataset'] as { '@id': string }[])
      .map((d) => d['@id']);
    for (const name of ['data-uses', 'privacy-budget']) {
      const id = `https://data.example.test/datasets/registre-${name}`;
      expect(listed).toContain(id);
      const dist = g.find((n) => n['@id'] === `${id}/distributions/json`)!;
      expect(dist['dcat:downloadURL']).toEqual({ '@id': `https://data.example.test/registers/${name}.json` });
      const path = new URL((dist['dcat:downloadURL'] as { '@id': string })['@id']).pathname;
      expect((await app.server.inject({ url: path })).statusCode).toBe(200);
    }
  });
});
