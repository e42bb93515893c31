/**
 * A TCP proxy between the bot and PostgreSQL, so a test can take the database away from the bot
 * without touching the shared server other work uses. Bytes pass through unchanged while it is
 * `up`. `refuse` is what a restarting server looks like: every open connection is reset and new
 * ones are reset as soon as they arrive. `blackhole` is a network partition: connections are
 * accepted and nothing ever answers.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type ProxyMode = 'up' | 'refuse' | 'blackhole';

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  mode: ProxyMode;
  /** Connections accepted so far, whatever happened to them. */
  readonly accepted: number;
  /** Switches mode; leaving `up` cuts every open connection. */
  set(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    // A reset peer is the point of this proxy, not a test failure.
    socket.on('error', () => {});
  };
  const cutAll = () => {
    for (const socket of open) socket.resetAndDestroy();
  };

  const server = createServer((client) => {
    accepted++;
    track(client);
    if (proxy.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (proxy.mode === 'blackhole') return;
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const proxy: TcpProxy = {
    port: (server.address() as AddressInfo).port,
    mode: 'up',
    get accepted() {
      return accepted;
    },
    set(mode) {
      if (mode !== 'up') cutAll();
      proxy.mode = mode;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
