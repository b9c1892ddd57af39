// The validation loss of chosen records of an SFT split, as the trainer computes it: the records
// encoded by loadSftSplit (through a view of the dataset that lists only them) and evaluateLoss's mean
// next-token cross-entropy over the answer tokens — `vlm2vla eval actions` asks it once per stage.
import { markerMap } from '../actions/action-tokens.ts';
import type { MarkerTokens } from '../actions/action-tokens.ts';
import type { ChatModelFiles } from '../models/index.ts';
import type { SftDataset, SftRecord, SftSplit } from '../sft/dataset.ts';
import { FINETUNE_DEFAULTS } from './finetune.ts';
import { loadSftSplit } from './sft.ts';
import { evaluateLoss } from './trainer.ts';

export interface RecordsLossOptions {
  /** Longer sequences are left out (and counted), as the trainer leaves them out. */
  maxLength?: number;
  batchSize?: number;
}

/** Mean loss of some records (null: none fitted in maxLength) and how many were too long. */
export type RecordsLoss = (records: readonly SftRecord[]) => { valLoss: number | null; tooLong: number };

/** The loss of records of `split` under a model; a marker-token run (`tokens`, `at`) encodes its
 *  markers as its action token ids, as training did. */
export function recordsLoss(
  m: ChatModelFiles,
  dataset: SftDataset,
  split: SftSplit,
  actionTokens: MarkerTokens | null,
  options: RecordsLossOptions = {},
): RecordsLoss {
  const enc = {
    tokenizer: m.tokenizer,
    template: m.template,
    cfg: m.model.cfg,
    ...(actionTokens ? { actionTokens: markerMap(actionTokens) } : {}),
  };
  return (records) => {
    const view: SftDataset = { ...dataset, records: () => [...records] };
    const { examples, stats } = loadSftSplit(view, split, enc, options.maxLength ?? FINETUNE_DEFAULTS.maxLength);
    const loss = examples.length > 0 ? evaluateLoss(m.model, examples, options.batchSize ?? 8) : Number.NaN;
    return { valLoss: Number.isFinite(loss) ? loss : null, tooLong: stats.tooLong };
  };
}
