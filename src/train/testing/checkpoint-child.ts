// Child process for crash tests: saves checkpoints for the steps given on the command line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointStore } from '../checkpoint.ts';

const [dir, ...steps] = process.argv.slice(2);
const store = new CheckpointStore(dir!, 2);
for (const s of steps) {
  const step = Number(s);
  await store.save(step, (tmp) => writeFileSync(join(tmp, 'weights.bin'), Buffer.alloc(1024, step)), { step });
}
