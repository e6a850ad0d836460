/**
 * Several images in one step (`npm run bench -- --only images [--reps N]`).
 *
 * Three independent images (each a Dockerfile with 40 RUN steps; the simulator's builder waits
 * 40 ms per log line, so the Build phase dominates), against one in-process simulator:
 *
 * - one image alone, `images` with one entry (the slowest of the three singles is the bound);
 * - the three one after the other, one step each (what "run the CLI once per image" costs);
 * - the three in one step with `images` and the default max-parallel (4).
 *
 * Wall time of `dist/index.js` as a process, median of N. Target: the three in one step take at
 * most 1.5× the slowest single image (not the 3× of the sequential sum). The simulator's
 * maxConcurrentSandboxes confirms the builds overlapped.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../simulator/index.js';
import { cleanupRun, runAction, SIM_KEY } from '../tools/action-runner.js';
import { median, type Measurement } from './lib.js';

const NAMES = ['alpha', 'beta', 'gamma'];

export async function benchImages(opts: { reps: number; record: (r: Measurement) => void }): Promise<void> {
  const s = await startSimulator({ quiet: true, builderLineDelayMs: 40, sandboxPendingMs: 50 });
  const ws = await mkdtemp(join(tmpdir(), 'bench-images-'));
  try {
    for (const n of NAMES) {
      await mkdir(join(ws, n), { recursive: true });
      const runs = Array.from({ length: 40 }, (_, i) => `RUN echo ${n} step ${i}`).join('\n');
      await writeFile(join(ws, n, 'Dockerfile'), `FROM python:3.12-slim\nCOPY app.txt /app.txt\n${runs}\n`);
      await writeFile(join(ws, n, 'app.txt'), `${n}\n`);
    }
    const step = async (images: string[]): Promise<number> => {
      const t0 = performance.now();
      const r = await runAction({
        workspace: ws,
        inputs: { 'api-key': SIM_KEY, 'api-url': s.url, images: images.map((n) => `- dockerfile: ${n}/Dockerfile`).join('\n') },
        timeoutMs: 180_000,
      });
      const ms = performance.now() - t0;
      await cleanupRun(r);
      if (r.code !== 0) throw new Error(`bench images: the step failed (${r.code}):\n${r.stdout.slice(-2000)}`);
      return ms;
    };
    await step([NAMES[0]]); // warm-up
    const single: number[] = [];
    const sequential: number[] = [];
    const together: number[] = [];
    let maxAlive = 0;
    for (let i = 0; i < opts.reps; i++) {
      const each: number[] = [];
      for (const n of NAMES) each.push(await step([n]));
      single.push(Math.max(...each));
      sequential.push(each.reduce((a, b) => a + b, 0));
      s.reset();
      together.push(await step(NAMES));
      maxAlive = Math.max(maxAlive, s.state().maxConcurrentSandboxes);
    }
    const slowest = median(single);
    const one = median(together);
    const ratio = one / slowest;
    opts.record({ group: 'images', name: 'slowest single image (one step)', value: slowest / 1000, unit: 's' });
    opts.record({ group: 'images', name: 'three images, three steps one after the other', value: median(sequential) / 1000, unit: 's' });
    opts.record({
      group: 'images',
      name: 'three images, one step (max-parallel 4)',
      value: one / 1000,
      unit: 's',
      note: `${maxAlive} builder sandboxes alive at once`,
    });
    opts.record({
      group: 'images',
      name: 'three in one step / slowest single',
      value: Math.round(ratio * 100) / 100,
      unit: '×',
      target: '≤ 1.5×',
      pass: ratio <= 1.5 && maxAlive === 3,
    });
  } finally {
    await s.stop();
    await rm(ws, { recursive: true, force: true });
  }
}
