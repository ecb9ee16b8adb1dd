import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';

/** Serves an app over real HTTP on 127.0.0.1 (a free port). */
export async function listen(app: {
  fetch: (req: Request) => Response | Promise<Response>;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
