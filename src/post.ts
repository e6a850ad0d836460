import { runPost } from './cleanup.js';

runPost().then(
  () => process.exit(),
  (e: unknown) => {
    console.error(`::warning::sbx-image-action post step failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(0);
  },
);
