#!/usr/bin/env node
// Reads jest's JSON results (`jest --json --outputFile=FILE`), one file per run, and prints one
// plain line per run and a last line with the totals: `N passed, N failed[, N skipped]`.
// Exits non-zero when a test failed, a test file could not run, or no test ran at all, so a run
// that executed nothing cannot look green.
// usage: node scripts/test-summary.mjs LABEL=FILE [LABEL=FILE ...]
import { readFileSync } from 'node:fs';

const total = { passed: 0, failed: 0, skipped: 0 };
let ok = process.argv.length > 2;
const line = (c) => `${c.passed} passed, ${c.failed} failed` + (c.skipped ? `, ${c.skipped} skipped` : '');

for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  const [label, file] = eq < 0 ? [arg, arg] : [arg.slice(0, eq), arg.slice(eq + 1)];
  let r;
  try {
    r = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`${label}: no jest result (${e instanceof Error ? e.message : String(e)})`);
    ok = false;
    continue;
  }
  // a file that failed to load has no test results, only a failed suite: count it as a failure
  const broken = (r.testResults ?? []).filter((s) => s.status === 'failed' && !s.assertionResults?.some((t) => t.status === 'failed'));
  for (const s of broken) console.log(`${label}: test file failed to run: ${s.name}`);
  const c = { passed: r.numPassedTests, failed: r.numFailedTests + broken.length, skipped: r.numPendingTests + r.numTodoTests };
  if (c.passed + c.failed === 0) console.log(`${label}: no test ran`);
  if (c.failed > 0 || c.passed + c.failed === 0 || r.success !== true) ok = false;
  console.log(`${label}: ${line(c)}`);
  for (const k of Object.keys(total)) total[k] += c[k];
}
console.log(line(total));
process.exit(ok ? 0 : 1);
