// Child process for crash tests: annotates an RLDS folder with the rules annotator into OUT.
import { openRlds } from '../../data/rlds/index.ts';
import { rulesAnnotator } from '../rules.ts';
import { runAnnotationJob } from '../job.ts';

const [input, out] = process.argv.slice(2);
await runAnnotationJob(openRlds(input!).episodes(), rulesAnnotator, { outDir: out! });
