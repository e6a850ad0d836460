/** Test helpers: a tiny node:http server on 127.0.0.1 and a transport with a fake clock/sleep. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTransport, type HttpTransportOptions } from '../../../src/platform/transport.js';
import { SecretRegistry } from '../../../src/secrets.js';
import type { Log } from '../../../src/log.js';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, n: number) => unknown;

export interface TestServer {
  url: string;
  port: number;
  requests: Recorded[];
  server: Server;
  close(): Promise<void>;
}

export async function startServer(handler: Handler, port = 0): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      Promise.resolve(handler(req, res, body, requests.length)).catch((e: unknown) => {
        res.statusCode = 599;
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port with nothing listening (connection refused). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export interface Harness {
  transport: HttpTransport;
  secrets: SecretRegistry;
  logs: string[];
  sleeps: number[];
  clock: { now: number };
}

export const TOKEN = 'tl_apikey_SECRET_0123456789';

/** A transport whose sleep records the wait and advances a fake clock (no real waiting). */
export function harness(opts: Partial<HttpTransportOptions> = {}): Harness {
  const secrets = new SecretRegistry();
  const logs: string[] = [];
  const sleeps: number[] = [];
  const clock = { now: 1_000_000 };
  const log: Log = {
    debug: (m) => logs.push(`debug: ${m}`),
    info: (m) => logs.push(`info: ${m}`),
    warning: (m) => logs.push(`warning: ${m}`),
  };
  const transport = new HttpTransport({
    token: TOKEN,
    secrets,
    log,
    now: () => clock.now,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      clock.now += ms;
      if (signal?.aborted) throw new Error('aborted');
    },
    random: () => 0.5,
    ...opts,
  });
  return { transport, secrets, logs, sleeps, clock };
}

export async function rejects(p: Promise<unknown>): Promise<Error & { kind?: string; httpStatus?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { kind?: string; httpStatus?: number };
  }
  throw new Error('expected a rejection');
}
