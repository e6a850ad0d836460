/** The soak/bench helpers that decide the must-be-0 counts: PRNG, log-group parsing, signed URLs. */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { builderLinesOf, flags, groupLines, median, pool, rng, signedUrls } from '../../../bench/lib.js';
import type { SimState } from '../../../simulator/types.js';

test('rng is deterministic per seed and stays in range', () => {
  const a = rng(7);
  const b = rng(7);
  const xs = Array.from({ length: 100 }, () => a.int(3, 9));
  assert.deepEqual(
    xs,
    Array.from({ length: 100 }, () => b.int(3, 9)),
  );
  assert.ok(xs.every((x) => x >= 3 && x <= 9));
  assert.notDeepEqual(
    xs,
    Array.from({ length: 100 }, () => rng(8).int(3, 9)),
  );
  assert.equal(rng(1).weighted([['only', 1]]), 'only');
});

test('flags: --name value, --name=value, booleans, defaults', () => {
  const f = flags(['--builds', '12', '--seed=3', '--quick']);
  assert.equal(f.num('builds', 50), 12);
  assert.equal(f.num('seed', 1), 3);
  assert.equal(f.num('concurrency', 8), 8);
  assert.equal(f.bool('quick'), true);
  assert.equal(f.bool('verbose'), false);
  assert.throws(() => flags(['--builds', 'x']).num('builds', 1), /expected a number/);
});

test("builder lines of the Build group: the action's own lines and workflow commands are not counted", () => {
  const stdout = [
    '::group::Upload context',
    'Uploading build context...',
    '::endgroup::',
    '::group::Build',
    'Running offline rootfs builder...',
    '::debug::HTTP POST /api/v1/processes → 200',
    'tl-rootfs-build 0.5.67-sim starting (spec /x/spec.json)',
    '[stderr] #1 [internal] load build definition from Dockerfile',
    'process stream interrupted; reattaching to process 107',
    'GET /api/v1/processes/107: HTTP 502; retrying in 0.4s (attempt 2)',
    '[stderr] #1 DONE 0.0s',
    'wrote metadata to /x/metadata.json',
    'Build: ok in 0.2s',
    '::endgroup::',
    '::group::Complete',
    'Completing image registration...',
    '::endgroup::',
  ].join('\n');
  assert.deepEqual(
    groupLines(stdout).map((g) => g.group),
    ['Upload context', 'Build', 'Complete'],
  );
  assert.deepEqual(builderLinesOf(stdout), [
    'tl-rootfs-build 0.5.67-sim starting (spec /x/spec.json)',
    '[stderr] #1 [internal] load build definition from Dockerfile',
    '[stderr] #1 DONE 0.0s',
    'wrote metadata to /x/metadata.json',
  ]);
});

test('signedUrls: URLs with a query string from builds and sandbox specs, by build id', () => {
  const st = {
    builds: [{ buildId: 'b1', signedSnapshotUri: 's3://bucket/x', prepareResponse: { u: 'https://h/p?sig=1' } }],
    sandboxes: [
      {
        specs: [
          {
            path: '/spec.json',
            at: '',
            spec: { buildId: 'b1', upload: { partUrls: ['https://h/a?part=1', 'https://h/a?part=2'] }, snapshotUri: 'https://h/nosig' },
          },
        ],
      },
    ],
  } as unknown as SimState;
  const m = signedUrls(st);
  assert.deepEqual([...(m.get('b1') ?? [])].sort(), ['https://h/a?part=1', 'https://h/a?part=2', 'https://h/p?sig=1']);
});

test('median and pool', async () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  let inFlight = 0;
  let peak = 0;
  const out = await pool([1, 2, 3, 4, 5, 6], 2, async (x) => {
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return x * 2;
  });
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12]);
  assert.equal(peak, 2);
});
