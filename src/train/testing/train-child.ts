// Child process of the SIGKILL test: the same LoRA run as trainer.test.ts's loraRun, killed by a crash point.
import { addAdapter, setActiveAdapter, decoderTargets, PAPER_LORA } from '../../models/index.ts';
import { train, TRAINER_DEFAULTS } from '../trainer.ts';
import { tinyModel, tinyExamples } from './fixtures.ts';

const model = tinyModel();
const params = addAdapter(model, 'a', { ...PAPER_LORA, r: 4, alpha: 8, dropout: 0.1, targetModules: decoderTargets('gemma3') }, 3);
setActiveAdapter(model, 'a');
await train({
  model,
  params,
  train: tinyExamples(10),
  val: [],
  outDir: process.argv[2]!,
  silent: true,
  config: {
    ...TRAINER_DEFAULTS,
    steps: 12,
    gradAccum: 2,
    batchSize: 3,
    checkpointEvery: 4,
    evalEvery: 0,
    clip: 1,
    schedule: { kind: 'cosine', lr: 5e-3, warmupSteps: 2, minLrRatio: 0.1 },
  },
});
