import type { FastifyInstance } from 'fastify';
import { MEDIA_TYPES, RELEASE_FILES, type ReleaseFileName } from '@ondijon/opendata';
import type { ApiContext } from '../context';
import { OTHER_ROUTES } from '../contract';
import { isNotModified } from './http-cache';

/**
 * Static download of release files: `/files/datasets/{id}/releases/{releaseId}/{file}`. Only
 * releases named in the catalogue are served (never a temp folder); the ETag is the file's SHA-256
 * from the release notes, so it is strong and the same on every replica.
 */
export async function filesPlugin(app: FastifyInstance, opts: { ctx: ApiContext }): Promise<void> {
  const { ctx } = opts;
  app.get<{ Params: { id: string; releaseId: string; file: string } }>(
    '/files/datasets/:id/releases/:releaseId/:file',
    { schema: OTHER_ROUTES.file },
    async (req, reply) => {
      const { id, releaseId, file } = req.params;
      const releases = await ctx.reader.releases(id);
      if (
        !releases.some((r) => r.releaseId === releaseId) ||
        !(RELEASE_FILES as readonly string[]).includes(file)
      ) {
        return reply.code(404).send({ error: 'Not Found', message: 'no such release file' });
      }
      const name = file as ReleaseFileName;
      const notes = await ctx.reader.releaseNotes(id, releaseId);
      const facts = notes.files.find((f) => f.name === name);
      if (facts) reply.header('etag', `"${facts.sha256}"`);
      // Immutable: a release never changes once published.
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      if (facts && isNotModified(req, `"${facts.sha256}"`)) return reply.code(304).send();
      reply.type(
        `${MEDIA_TYPES[name]}${name.endsWith('.csv') || name.endsWith('.md') ? '; charset=utf-8' : ''}`,
      );
      if (facts) reply.header('content-length', facts.bytes);
      return reply.send(await ctx.reader.releaseFileStream(id, releaseId, name));
    },
  );
}
