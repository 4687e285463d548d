import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** True when an If-None-Match header matches an ETag (weak comparison, RFC 9110 §13.1.2). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** True when the request's If-None-Match matches `etag`: the handler answers 304 without a body. */
export function isNotModified(req: FastifyRequest, etag: string): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && etagMatches(req.headers['if-none-match'], etag);
}

/**
 * ETag and conditional GET for every 200 GET response with an in-memory body: a weak validator
 * (the same entity may be sent gzipped or not) from a hash of the body; a matching If-None-Match
 * gets 304 with no body. Hooks are added on the given instance (the root), before compression, so
 * the hash is of the uncompressed body. Streamed files set their own strong ETag (release checksum).
 */
export function registerHttpCache(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || reply.statusCode !== 200) return payload;
    let etag = reply.getHeader('etag') as string | undefined;
    if (!etag) {
      if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
      etag = `W/"${createHash('sha1').update(payload).digest('base64url')}"`;
      reply.header('etag', etag);
    }
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'public, max-age=60');
    if (etagMatches(req.headers['if-none-match'], etag)) {
      reply.code(304);
      reply.removeHeader('content-length');
      reply.removeHeader('content-type');
      if (payload && typeof (payload as NodeJS.ReadableStream).pipe === 'function')
        (payload as unknown as { destroy(): void }).destroy();
      return '';
    }
    return payload;
  });
}
