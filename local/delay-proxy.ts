/**
 * A TCP proxy on 127.0.0.1 that holds every chunk the server sends back for `delayMs` (in order),
 * for latency experiments on servers that have no delay option of their own (redis-server). For a
 * request-response protocol each answer arrives `delayMs` later; requests pass at once. The delay
 * can change while connections are open.
 */
import * as net from 'node:net';

export interface DelayProxy {
  readonly port: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startDelayProxy(targetPort: number, delayMs = 0, targetHost = '127.0.0.1'): Promise<DelayProxy> {
  const state = { delayMs };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(targetPort, targetHost);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    let chain = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const due = Date.now() + state.delayMs;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!client.destroyed) client.write(chunk);
      });
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const close = (): void => {
      // Answers still held are delivered first, as a slow network would.
      void chain.then(() => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      });
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
