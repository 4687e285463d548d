import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';

/**
 * The OpenAPI 3 document, generated from the routes' zod schemas (contract.ts) by @fastify/swagger,
 * so the document, the request validation and the handlers' parsed parameters come from one
 * definition. Served at `/openapi.json`; schemathesis fuzzes it in test/clients.test.ts.
 */

type TransformArgs = Parameters<typeof jsonSchemaTransform>[0];

/** Responses documented without a body (304) pass through; every other schema is zod, rendered as JSON Schema. */
function transform(args: TransformArgs) {
  const response = args.schema?.response as Record<string, unknown> | undefined;
  const bare = Object.entries(response ?? {}).filter(
    ([, r]) => typeof r === 'object' && r !== null && Object.keys(r).join() === 'description',
  );
  if (!bare.length) return jsonSchemaTransform(args);
  const rest = Object.fromEntries(
    Object.entries(response!).filter(([code]) => !bare.some(([c]) => c === code)),
  );
  const out = jsonSchemaTransform({ ...args, schema: { ...args.schema, response: rest } });
  return {
    ...out,
    schema: { ...out.schema, response: { ...(out.schema.response as object), ...Object.fromEntries(bare) } },
  };
}

/**
 * Validates requests with the routes' zod schemas and documents them. Answers are written as the
 * handlers build them (JSON.stringify, streams for large pages): their schemas document the API and
 * the tests parse answers with them (responses.ts), but they are not re-checked on every answer.
 * Call before any route is registered.
 */
export async function registerContract(app: FastifyInstance): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'OnDijon open-data API',
        version: '0.1.0',
        description:
          'Read-only API over the OnDijon open-data store: DCAT-AP 3 catalogue, CKAN Action API subset, Explore v2.1 subset. Licence Ouverte 2.0, Dijon Métropole.',
        license: {
          name: 'Licence Ouverte 2.0',
          url: 'https://www.etalab.gouv.fr/licence-ouverte-open-licence/',
        },
      },
    },
    transform,
  });
}

/** Serves `/openapi.json` (the generated document). */
export async function openapiPlugin(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
