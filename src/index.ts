import { run } from './main.js';

// Exit explicitly once the run is over: no timer or socket may keep a cancelled step alive.
run().then(
  () => process.exit(),
  (e: unknown) => {
    // run() reports every failure itself; this is a last resort for a bug.
    console.error(`::error::sbx-image-action crashed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
