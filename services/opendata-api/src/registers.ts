import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Bilingual, RegisterFile } from '@ondijon/opendata';
import type { ApiContext } from './context';
import { OTHER_ROUTES } from './contract';
import { isNotModified } from './plugins/http-cache';

/**
 * The public registers the publisher writes to the store (`registers/{name}.json`): served as JSON at
 * `/registers/{name}.json` and described in the DCAT catalogue as datasets of their own.
 */

/** What the catalogue says about a register. Unknown names get a generic description. */
export interface RegisterInfo {
  title: Bilingual;
  description: Bilingual;
  keywords: { fr: string[]; en: string[] };
}

const KNOWN: Record<string, RegisterInfo> = {
  'data-uses': {
    title: { fr: 'Registre des usages des données', en: 'Register of data uses' },
    description: {
      fr: 'Usages déclarés des données du pipeline de télémétrie OnDijon (registre des traitements) et jeux de données ouverts qui en sont publiés, avec leurs seuils, règle de dominance, généralisation et bruit.',
      en: 'Declared uses of the data of the OnDijon telemetry pipeline (processing register) and the open datasets released from it, with their thresholds, dominance rule, coarsening and noise.',
    },
    keywords: { fr: ['registre', 'usages', 'gouvernance'], en: ['register', 'uses', 'governance'] },
  },
  'privacy-budget': {
    title: { fr: 'Registre du budget de confidentialité', en: 'Register of privacy budget spent' },
    description: {
      fr: 'Budget de confidentialité (ε, bruit de Laplace discret) dépensé par jeu de données et par jour de données ; composition séquentielle dans la journée.',
      en: 'Privacy budget (ε, discrete-Laplace noise) spent per dataset and day of data; sequential composition within a day.',
    },
    keywords: {
      fr: ['registre', 'confidentialité différentielle', 'budget'],
      en: ['register', 'differential privacy', 'budget'],
    },
  },
};

/** Catalogue description of a register. */
export function registerInfo(name: string): RegisterInfo {
  return (
    KNOWN[name] ?? {
      title: { fr: `Registre ${name}`, en: `Register ${name}` },
      description: {
        fr: `Registre public « ${name} » du pipeline OnDijon.`,
        en: `Public register "${name}" of the OnDijon pipeline.`,
      },
      keywords: { fr: ['registre'], en: ['register'] },
    }
  );
}

/** Dataset id of a register in the catalogue (DCAT IRI and identifier). */
export const registerDatasetId = (name: string) => `registre-${name}`;

/** Public URL of a register's JSON. */
export const registerUrl = (base: string, name: string) => `${base}/registers/${name}.json`;

/** Serves `/registers` (the list) and `/registers/{name}.json`. */
export async function registersPlugin(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  const find = async (name: string): Promise<RegisterFile | undefined> =>
    (await ctx.reader.registerFiles()).find((r) => r.name === name);
  app.get('/registers', { schema: OTHER_ROUTES.registers }, async () => ({
    registers: (await ctx.reader.registerFiles()).map((r) => ({
      name: r.name,
      title: registerInfo(r.name).title,
      path: `/registers/${r.name}.json`,
      updatedAt: r.updatedAt,
      bytes: r.bytes,
      sha256: r.sha256,
    })),
  }));
  app.get<{ Params: { file: string } }>(
    '/registers/:file',
    { schema: OTHER_ROUTES.register },
    async (req, reply) => {
      const name = req.params.file.replace(/\.json$/, '');
      const reg = await find(name);
      if (!reg) return reply.code(404).send({ error: 'Not Found', message: 'no such register' });
      // Small files, replaced atomically: read whole so the body always matches its validator.
      const body = await ctx.reader.registerBody(name);
      if (!body) return reply.code(404).send({ error: 'Not Found', message: 'no such register' });
      const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
      reply.header('etag', etag);
      reply.header('cache-control', 'public, max-age=60');
      if (isNotModified(req, etag)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );
}
