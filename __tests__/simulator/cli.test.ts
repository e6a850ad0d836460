/** The CLI: `bin/tl-sim.mjs --port 0` prints `listening on <url>` first, serves, and stops on SIGTERM/SIGINT. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { obj, req } from './client.js';

const BIN = fileURLToPath(new URL('../../bin/tl-sim.mjs', import.meta.url));

async function start(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const rl = createInterface({ input: child.stdout });
  const [first] = (await once(rl, 'line')) as [string];
  return { child, first };
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  test(`tl-sim starts on an ephemeral port, serves, applies --faults and stops on ${sig}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tl-sim-cli-'));
    const faults = join(dir, 'faults.json');
    await writeFile(
      faults,
      JSON.stringify([{ kind: 'status', path: '/platform/v1/keys/introspect', status: 503, headers: { 'Retry-After': '1' } }]),
    );
    const { child, first } = await start(['--port', '0', '--prepare-shape', 'legacy', '--faults', faults, '--quiet']);
    try {
      const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(first);
      assert.ok(m, first);
      const sim = { url: m[1] };
      assert.equal((await req(sim, 'POST', '/platform/v1/keys/introspect')).status, 503);
      assert.equal((await req(sim, 'POST', '/platform/v1/keys/introspect')).status, 200);
      const p = obj(
        await req(sim, 'POST', '/platform/v1/organizations/org_sim/projects/proj_sim/sandbox-template-builds', {
          json: {
            name: 'n',
            dockerfile: 'FROM a\n',
            baseImage: 'a',
            public: false,
            rootfsNodeKind: 'base',
            parentTemplate: null,
            additionalLocalImages: [],
          },
        }),
      );
      assert.ok(p.upload, 'legacy shape');
    } finally {
      child.kill(sig);
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  });
}

test('tl-sim refuses non-loopback hosts and unknown options', async () => {
  for (const args of [['--host', '0.0.0.0'], ['--bogus']]) {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2, err);
    assert.match(err, /loopback only|unknown option/);
  }
});
