// The registry of CLI commands. Each module adds one line here.
import type { Command } from '../command.ts';
import { versionCommand } from './version.ts';
import { demoCommand } from './demo.ts';
import { tokenizerEncodeCommand, tokenizerTrainCommand } from './tokenizer.ts';
import { dataInspectCommand } from './data.ts';
import { annotateCommand, annotateAuditCommand } from './annotate.ts';
import { buildCommand } from './build.ts';
import { simCollectCommand, simPlayCommand } from './sim.ts';
import { modelInfoCommand, modelExportGgufCommand } from './model.ts';
import { trainCommand } from './train.ts';
import { pretrainCommand } from './pretrain.ts';
import { evalVqaCommand } from './eval.ts';
import { evalSimCommand } from './eval-sim.ts';
import { evalActionsCommand } from './eval-actions.ts';
import { actCommand } from './act.ts';
import { experimentRunCommand } from './experiment.ts';
import { serveCommand } from './serve.ts';
import { reportCommand } from './report.ts';
import { viewCommand } from './view.ts';

export const commands: readonly Command[] = [
  versionCommand,
  demoCommand,
  dataInspectCommand,
  annotateCommand,
  annotateAuditCommand,
  buildCommand,
  pretrainCommand,
  trainCommand,
  evalVqaCommand,
  evalSimCommand,
  evalActionsCommand,
  actCommand,
  experimentRunCommand,
  reportCommand,
  viewCommand,
  serveCommand,
  simCollectCommand,
  simPlayCommand,
  tokenizerEncodeCommand,
  tokenizerTrainCommand,
  modelInfoCommand,
  modelExportGgufCommand,
];
