/**
 * The blueprint's API on a local port: POST /serve and POST /feedback answered by the serving
 * core (`createServer`, the code the Lambda handler runs), with the handler's routing, status codes
 * and headers. API Gateway's IAM authorization has no local counterpart: the port binds to
 * loopback only.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FEEDBACK_ROUTE, SERVE_ROUTE } from '../constructs/serving/runtime/contract';
import type { Server } from '../constructs/serving/runtime/server';
import { LocalRunError } from './processes';

const HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
// Lambda's synchronous payload limit; the pipeline's own maxRequestBytes answers 413 below it.
const MAX_BODY_BYTES = 6 * 1024 * 1024;

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, statusCode: number, body: string, requestId: string, extra: Record<string, string> = {}): void {
  res.writeHead(statusCode, { ...HEADERS, 'x-amzn-RequestId': requestId, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export async function startApiServer(server: Server, options: { port?: number; host?: string } = {}): Promise<ApiServer> {
  const http_ = http.createServer((req, res) => {
    const requestId = randomUUID();
    const pathname = (req.url ?? '/').split('?')[0].replace(/(.)\/$/, '$1');
    const route = pathname === SERVE_ROUTE ? SERVE_ROUTE : pathname === FEEDBACK_ROUTE ? FEEDBACK_ROUTE : undefined;
    if (route === undefined) {
      req.resume();
      send(res, 404, JSON.stringify({ error: `no such route; routes: POST ${SERVE_ROUTE}, POST ${FEEDBACK_ROUTE}`, requestId }), requestId);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      send(res, 405, JSON.stringify({ error: `${route} accepts POST only`, requestId }), requestId, { Allow: 'POST' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        send(res, 413, JSON.stringify({ error: `the request body is larger than ${MAX_BODY_BYTES} bytes`, requestId }), requestId);
        return;
      }
      let body: string;
      try {
        body = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        send(res, 400, JSON.stringify({ error: 'the request body must be UTF-8 JSON', requestId }), requestId);
        return;
      }
      const answer = route === SERVE_ROUTE ? server.serve(body, requestId) : server.feedback(body, requestId);
      answer.then(
        (response) => send(res, response.statusCode, response.body, requestId),
        () => send(res, 500, JSON.stringify({ error: 'internal error', requestId }), requestId),
      );
    });
  });
  http_.on('connection', (socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve, reject) => {
    http_.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new LocalRunError(`port ${options.port} is in use: choose another with --port (0: any free port)`) : error),
    );
    http_.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = http_.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        http_.closeAllConnections();
        http_.close(() => resolve());
      }),
  };
}
