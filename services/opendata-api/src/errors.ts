import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { exploreUnknownParameter } from './contract';
import { baseUrl, type ApiContext } from './context';
import { QueryError } from './query';

/** Most bytes of a request body (CKAN POST); more answers 413 naming the limit. */
export const BODY_LIMIT = 64 * 1024;

/** A CKAN error (also rebuilt from the scan worker's answer). */
export class CkanError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413,
    readonly type: string,
    message: string,
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message);
  }
}

/** An Explore v2.1 error: its HTTP status and `error_code`. */
export class ExploreError extends Error {
  constructor(
    readonly status: 400 | 404,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** CKAN's 409 for an invalid parameter. */
export const ckanValidation = (field: string, message: string) =>
  new CkanError(409, 'Validation Error', `${field}: ${message}`, { [field]: [message] });

type Family = 'ckan' | 'explore' | 'plain';

const CKAN_PREFIXES = ['/api/3/action/', '/api/action/'];
const EXPLORE_PREFIX = '/api/explore/';

function pathOf(req: FastifyRequest): string {
  return req.url.split('?')[0]!;
}

function familyOf(path: string): Family {
  if (CKAN_PREFIXES.some((p) => path.startsWith(p))) return 'ckan';
  if (path.startsWith(EXPLORE_PREFIX)) return 'explore';
  return 'plain';
}

/** The CKAN action a request names (last path segment), shown in the envelope's `help` link. */
function ckanAction(path: string): string {
  const prefix = CKAN_PREFIXES.find((p) => path.startsWith(p)) ?? '';
  return path.slice(prefix.length);
}

function sendCkan(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, err: CkanError) {
  return reply.code(err.status).send({
    help: ckanHelp(baseUrl(ctx, req), ckanAction(pathOf(req))),
    success: false,
    error: { __type: err.type, message: err.message, ...err.fields },
  });
}

/** The `help` link of a CKAN envelope. */
export function ckanHelp(base: string, action: string): string {
  return `${base}/api/3/action/help_show?name=${encodeURIComponent(action)}`;
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: { keys?: string[] };
}

/** The first issue of a schema validation, unknown parameters first (they are named before values). */
function firstIssue(err: { validation: unknown[] }): ValidationIssue {
  const issues = err.validation as ValidationIssue[];
  return issues.find((i) => i.keyword === 'unrecognized_keys') ?? issues[0]!;
}

function fieldOf(issue: ValidationIssue): string {
  return issue.instancePath.replace(/^\//, '').split('/')[0] || 'request';
}

/** Keys of the route's query-string schema (zod object), for "supported: …" in Explore's 400. */
function allowedQuery(req: FastifyRequest): string[] {
  const schema = req.routeOptions.schema?.querystring as z.ZodObject | undefined;
  return schema && 'shape' in schema ? Object.keys(schema.shape) : [];
}

/**
 * The one error handler and not-found handler of the API. Each answer takes the shape of the API
 * family the request addressed (CKAN envelope, Explore `error_code`, plain `{error, message}`):
 * schema validation failures, errors thrown by handlers, the rate limit, oversized or malformed
 * bodies, and anything unexpected (500, logged, no detail given out).
 */
export function registerErrorHandling(server: FastifyInstance, ctx: ApiContext): void {
  server.setErrorHandler(async (raw: Error & { statusCode?: number }, req, reply) => {
    const err = raw;
    const path = pathOf(req);
    const family = familyOf(path);
    const status = err.statusCode;
    const validation = hasZodFastifySchemaValidationErrors(err) ? firstIssue(err) : undefined;

    if (family === 'ckan') {
      if (err instanceof CkanError) return sendCkan(ctx, req, reply, err);
      if (err instanceof QueryError) return sendCkan(ctx, req, reply, ckanValidation(err.param, err.message));
      if (validation)
        return sendCkan(
          ctx,
          req,
          reply,
          ckanValidation(fieldOf(validation), validation.message ?? 'Invalid'),
        );
      if (status === 429)
        return reply.code(429).send({
          help: ckanHelp(baseUrl(ctx, req), ckanAction(path)),
          success: false,
          error: { __type: 'Rate Limit', message: err.message },
        });
      if (status === 413)
        return sendCkan(
          ctx,
          req,
          reply,
          new CkanError(413, 'Bad Request', `request body larger than ${BODY_LIMIT} bytes (limit)`),
        );
      if (status !== undefined && status >= 400 && status < 500)
        return sendCkan(
          ctx,
          req,
          reply,
          new CkanError(400, 'Bad Request', `Bad request - JSON Error: ${err.message}`),
        );
      req.log.error({ err }, 'ckan action failed');
      return reply.code(500).send({
        help: ckanHelp(baseUrl(ctx, req), ckanAction(path)),
        success: false,
        error: { __type: 'Internal Server Error', message: 'Internal Server Error' },
      });
    }

    if (family === 'explore') {
      if (err instanceof ExploreError)
        return reply.code(err.status).send({ error_code: err.code, message: err.message });
      // The one place a QueryError becomes an ODSQLError: services/opendata-api/src/plugins/explore.ts
      // and the scan worker throw them as they are.
      if (err instanceof QueryError)
        return reply.code(400).send({
          error_code: 'ODSQLError',
          message: `ODSQL query is malformed: ${err.message} (parameter "${err.param}")`,
        });
      if (validation) {
        const message =
          validation.keyword === 'unrecognized_keys'
            ? exploreUnknownParameter(validation.params.keys?.[0] ?? '', allowedQuery(req))
            : (validation.message ?? 'Invalid parameter');
        return reply.code(400).send({ error_code: 'InvalidRESTParameterError', message });
      }
      if (status === 429)
        return reply.code(429).send({ error_code: 'TooManyRequestsError', message: err.message });
      if (status !== undefined && status >= 400 && status < 500)
        return reply.code(400).send({ error_code: 'InvalidRESTParameterError', message: err.message });
      req.log.error({ err }, 'explore request failed');
      return reply.code(500).send({ error_code: 'InternalServerError', message: 'Internal Server Error' });
    }

    if (validation)
      return reply.code(400).send({
        error: 'Bad Request',
        message: `${fieldOf(validation)}: ${validation.message ?? 'invalid'}`,
      });
    if (status !== undefined && status >= 400 && status < 500)
      return reply.code(status).send({ error: 'Bad Request', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'Internal Server Error', message: 'Internal Server Error' });
  });

  server.setNotFoundHandler(async (req, reply) => {
    const path = pathOf(req);
    const family = familyOf(path);
    if (family === 'explore')
      return reply
        .code(404)
        .send({ error_code: 'NotFound', message: `Unknown endpoint: ${path.slice(0, 120)}` });
    if (
      family === 'ckan' &&
      !ckanAction(path).includes('/') &&
      (req.method === 'GET' || req.method === 'POST')
    )
      return sendCkan(
        ctx,
        req,
        reply,
        new CkanError(
          400,
          'Bad Request',
          `Bad request - Action name not known: ${ckanAction(path).slice(0, 80)}`,
        ),
      );
    return reply
      .code(404)
      .send({ error: 'Not Found', message: `no route for ${req.method} ${path.slice(0, 120)}` });
  });
}
