/**
 * The ceiling of bench/load-generator.ts: the cheapest HTTP server Node has (node:http, no framework, no body parsing)
 * answering every POST 202 with a fresh order id, so what the load generator can offer, not what a server can take,
 * is what the run measures. GET /livez answers 200.
 */
import { createServer } from 'node:http';

let n = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method !== 'POST') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const body = `{"order_id":"noop.${++n}","status":"QUEUED","correlation_id":"c"}`;
    res.writeHead(202, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'started', address: server.address() })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
