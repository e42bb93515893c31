/**
 * An HTTP reverse proxy in front of a wire-level test server (Okta, IAM) that can stop one
 * chosen call at a chosen moment, so a test can kill the bot while that call is in flight:
 *
 * - `request` phase: the call is held before the provider sees it (the provider changes nothing);
 * - `response` phase: the call is forwarded, the provider applies it and answers, and the answer
 *   is held (the provider changed, the bot never learns it did).
 *
 * The proxy passes bytes through unchanged (the IAM server's SigV4 check still holds: the signed
 * Host header is the proxy's, and the server checks the signature over the headers it receives).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ProxiedCall {
  method: string;
  /** Path without the query, percent-decoded. */
  path: string;
  /** Form fields of a Query-protocol (IAM/STS) body, and the URL's query. */
  params: Record<string, string>;
  body: string;
  at: Date;
}

export interface HoldRule {
  /** A label for logs. */
  name: string;
  match(call: ProxiedCall): boolean;
  phase: 'request' | 'response';
  /** The n-th matching call is held (1 = the first); earlier ones pass. */
  nth?: number;
}

export interface Held {
  rule: HoldRule;
  call: ProxiedCall;
  /** Status the provider answered with (response phase only). */
  upstreamStatus?: number;
}

export interface FaultProxy {
  url: string;
  /** Every call that went through, in order. */
  calls: ProxiedCall[];
  /**
   * Holds the call the rule picks; resolves once it is held (the caller then kills the bot).
   * One rule at a time; a new arm replaces the old one.
   */
  arm(rule: HoldRule): Promise<Held>;
  disarm(): void;
  /** Drops every held call (their sockets are closed). */
  dropHeld(): void;
  close(): Promise<void>;
}

function decodePath(pathname: string): string {
  return pathname
    .split('/')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    })
    .join('/');
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const calls: ProxiedCall[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<ServerResponse>();
  let armed: { rule: HoldRule; seen: number; resolve: (h: Held) => void } | undefined;

  const takeRule = (call: ProxiedCall): HoldRule | undefined => {
    if (!armed || !armed.rule.match(call)) return undefined;
    armed.seen++;
    if (armed.seen < (armed.rule.nth ?? 1)) return undefined;
    return armed.rule;
  };
  const trip = (rule: HoldRule, call: ProxiedCall, upstreamStatus?: number) => {
    const current = armed;
    if (!current || current.rule !== rule) return;
    armed = undefined;
    current.resolve({ rule, call, ...(upstreamStatus !== undefined ? { upstreamStatus } : {}) });
  };

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy.invalid');
      const params: Record<string, string> = Object.fromEntries(url.searchParams);
      if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
      }
      const call: ProxiedCall = { method: req.method ?? 'GET', path: decodePath(url.pathname), params, body: body.toString('utf8'), at: new Date() };
      calls.push(call);
      const rule = takeRule(call);
      if (rule?.phase === 'request') {
        held.add(res);
        res.on('close', () => held.delete(res));
        trip(rule, call);
        return;
      }
      forward(req, body).then(
        (answer) => {
          if (rule?.phase === 'response') {
            held.add(res);
            res.on('close', () => held.delete(res));
            trip(rule, call, answer.status);
            return;
          }
          if (res.destroyed) return;
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          headers['content-length'] = String(answer.body.length);
          res.writeHead(answer.status, headers);
          res.end(answer.body);
        },
        (error: unknown) => {
          if (res.destroyed) return;
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`fault proxy: upstream failed: ${String(error)}`);
        },
      );
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    calls,
    arm(rule) {
      return new Promise<Held>((resolve) => {
        armed = { rule, seen: 0, resolve };
      });
    },
    disarm() {
      armed = undefined;
    },
    dropHeld() {
      for (const res of held) res.destroy();
      held.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const res of held) res.destroy();
        for (const socket of sockets) socket.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
