// The live pages of bench:console: SESSIONS_N connections to the console's `/api/events`, each read to
// the end of every update, in a process of their own. The operators' browsers run on their own machines,
// not on the server; here they share its 2 cores with ingest, so the bench starts this process at the
// lowest priority (`nice -n 19`), and reports its CPU apart. Prints the bytes read so far once a second.
import http from 'node:http';

const base = process.env.SESSIONS_BASE!;
const cookie = process.env.SESSIONS_COOKIE!;
const count = Number(process.env.SESSIONS_N ?? 20);
let bytes = 0;
let open = 0;
for (let i = 0; i < count; i++) {
  const req = http.get(`${base}/api/events`, { headers: { cookie } }, (res) => {
    if (res.statusCode === 200) open++;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
}
setInterval(() => process.stdout.write(`${JSON.stringify({ bytes, open })}\n`), 1000);
