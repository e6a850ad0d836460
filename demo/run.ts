/**
 * The demo: starts the embedded platform simulator on loopback, runs the bundled action
 * (dist/index.js, exactly what GitHub runs) on examples/app in streaming mode, and prints the log
 * groups, the outputs, the job summary and what the simulator saw. Exits non-zero if anything is off.
 *
 *   npm ci && npm run demo
 */
import { join } from 'node:path';
import { startSimulator } from '../simulator/index.js';
import { ROOT, SIM_KEY, runAction, cleanupRun } from '../tools/action-runner.js';

const streaming = !process.argv.includes('--ext4');
const sim = await startSimulator({ quiet: true, admissionBytesPerSecond: 4 * 1024 * 1024 });
console.log(`simulator: ${sim.url}\n`);
console.log(`running dist/index.js on examples/app (${streaming ? 'streaming: true' : 'ext4'})\n${'─'.repeat(72)}`);
let ok = false;
try {
  const run = await runAction({
    entry: 'dist',
    // Show the log as GitHub renders it: groups as headings, masks and debug lines hidden.
    echo: (line) => {
      if (line.startsWith('::add-mask::') || line.startsWith('::debug::')) return undefined;
      if (line.startsWith('::group::')) return `\n▶ ${line.slice(9)}`;
      if (line === '::endgroup::') return undefined;
      const m = /^::(warning|error|notice)( [^:]*)?::(.*)$/.exec(line);
      if (m) return `  ${m[1].toUpperCase()}${m[2] ? ` (${m[2].trim()})` : ''}: ${m[3]}`;
      return `  ${line}`;
    },
    workspace: ROOT,
    inputs: {
      dockerfile: join('examples', 'app', 'Dockerfile'),
      streaming: String(streaming),
      'api-key': SIM_KEY,
      'api-url': sim.url,
      'poll-interval': '1s',
    },
  });
  console.log(`${'─'.repeat(72)}\nexit code: ${run.code}\n\noutputs:`);
  for (const [k, v] of Object.entries(run.outputs))
    console.log(`  ${k} = ${k === 'template' ? v.slice(0, 120) + (v.length > 120 ? '…' : '') : v}`);
  console.log(`\nlog groups: ${run.groups.join(' → ')}`);
  console.log(`\njob summary (${run.summary.length} chars):\n${run.summary}`);
  const state = sim.state();
  const running = state.sandboxes.filter((s) => s.status !== 'terminated' && !s.deletedAt);
  console.log(
    `simulator: ${state.sandboxes.length} sandbox(es) created, ${running.length} still running; ${state.templates.length} template(s) registered`,
  );
  ok = run.code === 0 && run.outputs.status === 'registered' && running.length === 0;
  await cleanupRun(run);
} finally {
  await sim.stop();
}
console.log(ok ? '\ndemo: OK' : '\ndemo: FAILED');
process.exit(ok ? 0 : 1);
