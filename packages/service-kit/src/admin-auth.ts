import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * A Fastify `onRequest` hook for admin endpoints (anything that changes state): requires
 * `Authorization: Bearer <token>`, compared in constant time. Without a configured token every call is
 * refused: an admin endpoint is never open by default. Answers 401 with code `ONDIJON_UNAUTHORIZED`.
 */
export function requireBearerToken(token: string | undefined, variable: string) {
  const expected = token === undefined || token === '' ? undefined : digest(token);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const ok =
      expected !== undefined && match !== null && timingSafeEqual(digest(match[1]!.trim()), expected);
    if (ok) return;
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({
        code: 'ONDIJON_UNAUTHORIZED',
        message:
          expected === undefined
            ? `admin endpoints are disabled: ${variable} is not set`
            : 'a valid bearer token is required',
      });
  };
}

function digest(value: string): Buffer {
  // Hashing first makes both sides the same length, as timingSafeEqual needs.
  return createHash('sha256').update(value).digest();
}

/** A bare HTTP server for admin endpoints on an address of their own (no logging of requests). */
export function buildAdminServer(): FastifyInstance {
  return Fastify({ logger: false });
}
