import * as core from '@actions/core';
import { runPost } from './cleanup.js';
import { SecretRegistry } from './secrets.js';

runPost().then(
  () => process.exit(),
  (e: unknown) => {
    const secrets = new SecretRegistry();
    for (const name of ['INPUT_API-KEY', 'INPUT_PAT', 'TENSORLAKE_API_KEY', 'TENSORLAKE_PAT']) secrets.add(process.env[name]);
    core.warning(`sbx-image-action post step failed: ${secrets.redact(e instanceof Error ? e.message : String(e))}`);
    process.exit(0);
  },
);
