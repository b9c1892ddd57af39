// Child process for crash tests: annotates DATA with the openai annotator against URL into OUT.
import { openRlds } from '../../data/rlds/index.ts';
import { runAnnotationJob } from '../job.ts';
import { openAiAnnotator } from '../openai/annotator.ts';
import { CLIENT_DEFAULTS } from '../openai/client.ts';

const [data, out, url] = process.argv.slice(2);
const annotator = openAiAnnotator({
  ...CLIENT_DEFAULTS,
  baseUrl: url!,
  apiKey: process.env.TEST_API_KEY!,
  model: 'fake-vlm',
  timeoutMs: 300,
  backoffMs: 5,
  maxRetries: 8,
  concurrency: 3,
  frames: 2,
  camera: 'image_0',
});
await runAnnotationJob(openRlds(data!).episodes(), annotator, { outDir: out!, concurrency: 3 });
