import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SandboxProxy } from '../../../src/platform/proxy.js';
import { runCommand, commandFailureMessage, terminalStatus } from '../../../src/platform/process.js';
import type { ProcessInfo } from '../../../src/platform/types.js';
import { harness, json, rejects, startServer } from './helpers.js';

interface Proc {
  pid: number;
  command: string;
  args: string[];
  status: string;
  exit_code?: number;
  signal?: number;
  oom_killed?: boolean;
  lines: { line: string; stream: string }[];
}

/**
 * A tiny daemon: `follow(proc, n, req, res)` decides, per follow request n (1-based), what the
 * stream does; `statusFor(proc, n)` what the n-th status read returns.
 */
function daemon(opts: {
  start?: (body: { command: string; args: string[] }, req: IncomingMessage, res: ServerResponse, create: () => Proc) => void;
  follow: (p: Proc, n: number, req: IncomingMessage, res: ServerResponse) => unknown;
  status?: (p: Proc, n: number) => Partial<Proc> | 'error';
  procs?: Proc[];
}) {
  const procs: Proc[] = opts.procs ?? [];
  let follows = 0;
  let statuses = 0;
  let nextPid = 100;
  const handler = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const url = req.url ?? '';
    const info = (p: Proc, override: Partial<Proc> = {}) => {
      const { lines: _l, ...rest } = { ...p, ...override };
      return { ...rest, started_at: 1 };
    };
    if (req.method === 'POST' && url === '/api/v1/processes') {
      const b = JSON.parse(body.toString()) as { command: string; args: string[] };
      const create = () => {
        const p: Proc = { pid: nextPid++, command: b.command, args: b.args, status: 'running', lines: [] };
        procs.push(p);
        return p;
      };
      if (opts.start) return opts.start(b, req, res, create);
      return json(res, 200, info(create()));
    }
    if (req.method === 'GET' && url === '/api/v1/processes') return json(res, 200, { processes: procs.map((p) => info(p)) });
    const m = /^\/api\/v1\/processes\/(\d+)(\/output\/follow)?$/.exec(url);
    const p = m ? procs.find((x) => x.pid === Number(m[1])) : undefined;
    if (!m || !p) return json(res, 404, { error: 'no such process' });
    if (m[2]) {
      follows++;
      return opts.follow(p, follows, req, res);
    }
    statuses++;
    const s = opts.status ? opts.status(p, statuses) : {};
    if (s === 'error') return json(res, 500, 'status unavailable');
    return json(res, 200, info(p, s));
  };
  return { procs, handler, counts: () => ({ follows, statuses }) };
}

function writeEvents(res: ServerResponse, lines: { line: string; stream: string }[]): void {
  for (const l of lines) res.write(`data: ${JSON.stringify({ line: l.line, timestamp: 0, stream: l.stream })}\n\n`);
}

function openSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(': hello\n\n');
}

const L = (n: number) => Array.from({ length: n }, (_v, i) => ({ line: `line ${i + 1}`, stream: i % 3 === 2 ? 'stderr' : 'stdout' }));

function setup(handler: Parameters<typeof startServer>[0], retry?: { maxAttempts: number }) {
  return startServer(handler).then((srv) => {
    const h = harness(retry ? { retry } : {});
    const proxy = new SandboxProxy(h.transport, { baseUrl: srv.url, sandboxId: 'sbx1' });
    return { srv, h, proxy };
  });
}

test('replay after dropped streams and a clean-but-running end: no line lost or duplicated', async () => {
  const all = L(9);
  const d = daemon({
    follow: async (p, n, req, res) => {
      openSse(res);
      if (n === 1) {
        // 3 lines, then the connection drops
        writeEvents(res, all.slice(0, 3));
        await new Promise((r) => setTimeout(r, 20));
        req.socket.destroy();
      } else if (n === 2) {
        // full replay of what exists so far (5 lines), then a clean end while still running
        writeEvents(res, all.slice(0, 5));
        res.end();
      } else if (n === 3) {
        writeEvents(res, all.slice(0, 7));
        await new Promise((r) => setTimeout(r, 20));
        req.socket.destroy();
      } else {
        p.status = 'exited';
        p.exit_code = 0;
        writeEvents(res, all);
        res.end();
      }
    },
  });
  const { srv, proxy } = await setup(d.handler);
  afterTest(() => srv.close());
  const got: string[] = [];
  const notices: string[] = [];
  const sleeps: number[] = [];
  const r = await runCommand(
    proxy,
    { command: '/usr/local/bin/tl-rootfs-build', args: ['--spec', 's'] },
    {
      onOutput: (e) => got.push(`${e.stream}:${e.line}`),
      onNotice: (m) => notices.push(m),
      sleep: async (ms) => void sleeps.push(ms),
    },
  );
  assert.deepEqual(r, { pid: 100, exitCode: 0, oomKilled: false });
  assert.deepEqual(
    got,
    all.map((l) => `${l.stream}:${l.line}`),
  );
  assert.deepEqual(notices, [
    'process stream interrupted; reattaching to process 100',
    'process output stream ended before process 100 exited; reattaching',
    'process stream interrupted; reattaching to process 100',
  ]);
  assert.deepEqual(sleeps, [1000, 1000, 1000]);
  assert.equal(d.counts().follows, 4);
});

test('clean end but still running → reattach (unbounded), then exit code', async () => {
  const d = daemon({
    follow: (p, n, _req, res) => {
      openSse(res);
      if (n >= 12) {
        p.status = 'exited';
        p.exit_code = 3;
        writeEvents(res, [{ line: 'done', stream: 'stdout' }]);
      }
      res.end();
    },
  });
  const { srv, proxy } = await setup(d.handler);
  afterTest(() => srv.close());
  const notices: string[] = [];
  const got: string[] = [];
  const r = await runCommand(
    proxy,
    { command: 'tar', args: ['-xzf', 'a'] },
    { onNotice: (m) => notices.push(m), onOutput: (e) => got.push(e.line), sleep: async () => {} },
  );
  assert.equal(r.exitCode, 3, 'nonzero exit is a result, not an error');
  assert.deepEqual(got, ['done']);
  assert.equal(notices.length, 11, 'more than 10 clean reattaches are fine');
  assert.equal(commandFailureMessage('tar', r), "Command 'tar' failed with exit code 3");
});

test('start recovery: reset after the daemon started it → found by exact command/args, highest pid; not started twice', async () => {
  let posts = 0;
  const old: Proc = { pid: 50, command: '/bin/true', args: [], status: 'exited', exit_code: 0, lines: [] };
  const otherArgs: Proc = { pid: 900, command: 'mkdir', args: ['-p', '/other'], status: 'running', lines: [] };
  const d = daemon({
    procs: [old, otherArgs],
    start: (_b, req, _res, create) => {
      posts++;
      create(); // pid 100: started ...
      req.socket.destroy(); // ... but the answer is lost
    },
    follow: (p, _n, _req, res) => {
      p.status = 'exited';
      p.exit_code = 0;
      openSse(res);
      writeEvents(res, [{ line: `pid ${p.pid}`, stream: 'stdout' }]);
      res.end();
    },
  });
  const { srv, proxy } = await setup(d.handler);
  afterTest(() => srv.close());
  const notices: string[] = [];
  const got: string[] = [];
  const r = await runCommand(
    proxy,
    { command: 'mkdir', args: ['-p', '/var/lib/x'] },
    { onNotice: (m) => notices.push(m), onOutput: (e) => got.push(e.line), sleep: async () => {} },
  );
  assert.equal(r.pid, 100);
  assert.deepEqual(got, ['pid 100']);
  assert.equal(posts, 1);
  assert.deepEqual(notices, ['process start attempt 1 failed; looking for an already-started process']);
});

test('start failure with nothing to recover → 3 attempts, clear error', async () => {
  let posts = 0;
  const d = daemon({
    start: (_b, _req, res) => {
      posts++;
      json(res, 500, 'Failed to spawn');
    },
    follow: (_p, _n, _req, res) => res.end(),
  });
  const { srv, proxy } = await setup(d.handler);
  afterTest(() => srv.close());
  const sleeps: number[] = [];
  const err = await rejects(runCommand(proxy, { command: '/bin/true', args: [] }, { sleep: async (ms) => void sleeps.push(ms) }));
  assert.equal(posts, 3);
  assert.match(
    err.message,
    /^failed to start '\/bin\/true' in the builder sandbox: start failed: failed to start process '\/bin\/true' \(HTTP 500 Internal Server Error\): Failed to spawn; recovery failed: No process found for command '\/bin\/true' with args \[\]$/,
  );
  assert.equal(err.httpStatus, 500);
  // 3 × (9 waits between 10 list attempts) + 2 waits between start attempts
  assert.equal(sleeps.length, 29);
});

test('10 consecutive stream failures → the follow error is thrown', async () => {
  const d = daemon({ follow: (_p, _n, _req, res) => json(res, 502, 'PROXY_ERROR') });
  const { srv, proxy } = await setup(d.handler, { maxAttempts: 1 });
  afterTest(() => srv.close());
  const notices: string[] = [];
  const err = await rejects(runCommand(proxy, { command: 'x', args: [] }, { onNotice: (m) => notices.push(m), sleep: async () => {} }));
  assert.match(err.message, /^failed to follow output of process 100 \(HTTP 502 Bad Gateway\): PROXY_ERROR/);
  assert.equal(d.counts().follows, 10);
  assert.equal(notices.length, 9);
});

test('failed status reads share the failure budget; a terminal status after a failed follow ends the run', async () => {
  const d = daemon({
    follow: (_p, _n, req) => req.socket.destroy(),
    status: (_p, n) => (n < 4 ? 'error' : { status: 'exited', exit_code: 0, signal: undefined }),
  });
  const { srv, proxy } = await setup(d.handler, { maxAttempts: 1 });
  afterTest(() => srv.close());
  const r = await runCommand(proxy, { command: 'x', args: [] }, { sleep: async () => {} });
  assert.equal(r.exitCode, 0);
  assert.deepEqual(d.counts(), { follows: 1, statuses: 4 });

  const d2 = daemon({ follow: (_p, _n, req) => req.socket.destroy(), status: () => 'error' });
  const s2 = await setup(d2.handler, { maxAttempts: 1 });
  afterTest(() => s2.srv.close());
  const err = await rejects(runCommand(s2.proxy, { command: 'x', args: [] }, { sleep: async () => {} }));
  assert.match(err.message, /read status of process 100 \(HTTP 500/);
  assert.deepEqual(d2.counts(), { follows: 1, statuses: 9 }, '1 follow failure + 9 status failures = 10');
});

test('OOM, signal and exit rules through the daemon', async () => {
  const cases: [Partial<Proc>, number, boolean][] = [
    [{ status: 'oom_killed', signal: 9 }, -9, true],
    [{ status: 'exited', oom_killed: true, exit_code: 137 }, 137, true],
    [{ status: 'signaled', signal: 15 }, -15, false],
    [{ status: 'exited', exit_code: 2 }, 2, false],
    [{ status: 'finished' }, 0, false],
  ];
  for (const [st, code, oom] of cases) {
    const d = daemon({
      follow: (p, _n, _req, res) => {
        Object.assign(p, st);
        openSse(res);
        res.end();
      },
    });
    const { srv, proxy } = await setup(d.handler);
    afterTest(() => srv.close());
    const r = await runCommand(proxy, { command: '/usr/local/bin/tl-rootfs-build', args: [] }, { sleep: async () => {} });
    assert.deepEqual([r.exitCode, r.oomKilled], [code, oom], JSON.stringify(st));
  }
});

test('terminalStatus and commandFailureMessage', () => {
  const p = (o: Partial<ProcessInfo>): ProcessInfo => ({ pid: 1, status: 'running', command: 'c', args: [], oom_killed: false, ...o });
  assert.deepEqual(terminalStatus(p({ status: 'oom_killed', signal: 9 })), { exitCode: -9, oomKilled: true });
  assert.deepEqual(terminalStatus(p({ status: 'oom_killed' })), { exitCode: -9, oomKilled: true });
  assert.deepEqual(terminalStatus(p({ status: 'running', managed_oom_killed: true, exit_code: 1 })), { exitCode: 1, oomKilled: true });
  assert.deepEqual(
    terminalStatus(p({ status: 'running', exit_code: 4 })),
    { exitCode: 4, oomKilled: false },
    'exit_code wins regardless of status',
  );
  assert.deepEqual(terminalStatus(p({ status: 'running', signal: 6 })), { exitCode: -6, oomKilled: false });
  assert.deepEqual(terminalStatus(p({ status: 'exited' })), { exitCode: 0, oomKilled: false });
  assert.equal(terminalStatus(p({ status: 'running' })), undefined);
  assert.equal(
    commandFailureMessage('/usr/local/bin/tl-rootfs-build', { pid: 1, exitCode: -9, oomKilled: true }),
    "Command '/usr/local/bin/tl-rootfs-build' failed with exit code -9 (process was killed by the kernel OOM killer)",
  );
});

test('cancellation during a follow ends runCommand with kind cancelled', async () => {
  const d = daemon({ follow: (_p, _n, _req, res) => openSse(res) });
  const { srv, proxy } = await setup(d.handler);
  afterTest(() => srv.close());
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const err = await rejects(runCommand(proxy, { command: 'x', args: [] }, { signal: ac.signal, sleep: async () => {} }));
  assert.equal(err.kind, 'cancelled');
});

test('a stream that broke while the process exited is followed once more for the tail: no line lost', async () => {
  const all = L(6);
  const d = daemon({
    follow: (p, n, req, res) => {
      openSse(res);
      if (n === 1) {
        // two lines, then the process ends and the stream breaks before the rest arrives
        writeEvents(res, all.slice(0, 2));
        p.status = 'exited';
        p.exit_code = 0;
        req.socket.destroy();
        return;
      }
      // an exited process's stream replays its whole history and closes
      writeEvents(res, all);
      res.end();
    },
  });
  const { srv, proxy } = await setup(d.handler, { maxAttempts: 1 });
  afterTest(() => srv.close());
  const got: string[] = [];
  const r = await runCommand(
    proxy,
    { command: '/usr/local/bin/tl-rootfs-build', args: [] },
    { onOutput: (e) => got.push(e.line), sleep: async () => {} },
  );
  assert.equal(r.exitCode, 0);
  // However many lines the broken stream delivered, the re-follow skips them and delivers the rest.
  assert.deepEqual(
    got,
    all.map((l) => l.line),
  );
  assert.equal(d.counts().follows, 2);
});
