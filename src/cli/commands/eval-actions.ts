// `vlm2vla eval actions`: offline checks of a model (and adapter) on an SFT dataset's validation
// split, per stage: well-formed answers without and with the grammar, exact match, action error
// against the zero-motion and mean-action baselines, and validation loss.
import { defineCommand } from '../define.ts';
import { actionsTable, evaluateActions, loadActionModel, openEvalSet } from '../../eval/actions.ts';
import { recordsLoss } from '../../train/sft-loss.ts';
import { writeFileAtomic, checkOutputFile } from '../../util/index.ts';

export const evalActionsCommand = defineCommand({
  name: 'eval actions',
  summary: 'per-stage well-formed rate, exact match, action error and validation loss on an SFT split',
  description:
    'Asks every example of the split (a dataset written by `vlm2vla build`) twice with greedy decoding:\n' +
    "freely, then under its stage's grammar (as the policy decodes). Per stage (subtasks, plan, chunk,\n" +
    "act, verify, direction — those in the data) it reports the share of answers the stage's strict\n" +
    "decoder accepts (chunks: the dataset's action codec) and the share equal to the reference; for\n" +
    'chunks the mean per-element error in cm (|dx|, |dy|, |dz| averaged; elements aligned by index, the\n' +
    'shorter chunk padded with zero motion) and gripper agreement, beside the same error of zero motion\n' +
    "and of the train split's mean element; and the teacher-forced validation loss as the trainer\n" +
    "computes it. A `tokens` or `at` dataset needs the run's action_tokens.json (pass --adapter RUN).",
  flags: {
    model: {
      type: 'string',
      required: true,
      meta: 'DIR',
      help: 'model folder (config.json, weights, tokenizer files), or RUN/model of a full fine-tune',
    },
    adapter: { type: 'string', meta: 'RUN', help: 'a `vlm2vla train` run folder or a PEFT adapter folder to apply' },
    data: { type: 'string', required: true, meta: 'SFT_DIR', help: 'SFT dataset folder written by `vlm2vla build`' },
    split: { type: 'string', default: 'val', choices: ['val', 'train'], help: 'which split to ask' },
    limit: {
      type: 'number',
      integer: true,
      min: 1,
      meta: 'N',
      help: 'at most N examples of each stage (the first in file order)',
      defaultHelp: 'all',
    },
    out: { type: 'string', meta: 'FILE.json', help: 'also write the report (and every answer) to this JSON file' },
  },
  async run(f) {
    if (f.out) checkOutputFile(f.out);
    // Every record is checked before the model loads.
    const set = openEvalSet(f.data, f.split, f.limit ?? null);
    const m = loadActionModel(f.model, f.adapter ?? null, set.dataset);
    const report = await evaluateActions({ backend: m.backend, loss: recordsLoss(m.files, set.dataset, set.split, m.actionTokens) }, set);
    console.log(actionsTable(report));
    if (f.out) {
      writeFileAtomic(f.out, `${JSON.stringify({ model: f.model, adapter: f.adapter ?? null, ...report }, null, 2)}\n`);
      console.log(`wrote ${f.out}`);
    }
    return 0;
  },
});
