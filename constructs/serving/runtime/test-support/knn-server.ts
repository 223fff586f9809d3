/**
 * A local stand-in for an OpenSearch Serverless collection: answers `POST /<index>/_search` in
 * OpenSearch's response shape and records each request (method, path, headers, parsed body).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawBody: string;
  readonly body: unknown;
}

export interface KnnServer {
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  /** What the next searches answer: status and JSON body (default: 200 and an empty result). */
  respond: (request: RecordedRequest) => { status: number; body: unknown; delayMs?: number };
  close(): Promise<void>;
}

export async function startKnnServer(): Promise<KnnServer> {
  const requests: RecordedRequest[] = [];
  const state: { respond: KnnServer['respond'] } = {
    respond: () => ({ status: 200, body: { hits: { total: { value: 0, relation: 'eq' }, hits: [] } } }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = rawBody === '' ? undefined : JSON.parse(rawBody);
      } catch {
        body = undefined;
      }
      const recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, rawBody, body };
      requests.push(recorded);
      const answer = state.respond(recorded);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    get respond() {
      return state.respond;
    },
    set respond(fn) {
      state.respond = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
