/**
 * A TCP proxy in front of the Kiln server whose connections a test can cut, to make a real
 * dropped connection (the browser's offline emulation leaves open localhost streams alone).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DroppableProxy {
  url: string;
  /** Destroys every open connection (the SSE streams with them). */
  dropAll(): number;
  close(): Promise<void>;
}

export async function startDroppableProxy(targetPort: number): Promise<DroppableProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    dropAll() {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
