// `vlm2vla model info|export-gguf`: what a Hugging Face model folder holds, and its text decoder (and
// a LoRA adapter) as llama.cpp GGUF files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { requireString } from '../args.ts';
import { UsageError } from '../../errors/index.ts';
import { Bf16Tensor } from '../../tensor/index.ts';
import { loadModel, loadAdapter, adapterConfig } from '../../models/index.ts';
import { exportGemma3Gguf, exportLoraGguf, vocabFromTokenizer } from '../../models/gemma3/gguf.ts';
import { Tokenizer } from '../../tokenizer/index.ts';

export const modelInfoCommand: Command = {
  name: 'model info',
  summary: 'describe a Hugging Face model folder (architecture, sizes, parameters, dtypes)',
  usage: '--model DIR [--json]',
  description: 'Loads config.json and the safetensors weights (every name and shape is checked) and prints a summary.',
  flags: [
    { name: 'model', type: 'string', help: 'model folder (config.json + model.safetensors)' },
    { name: 'json', type: 'boolean', help: 'print JSON', default: false },
  ],
  run(args) {
    const dir = requireString(args, 'model');
    const model = loadModel(dir);
    const t = model.text;
    let params = 0;
    let bf16 = 0;
    for (const w of model.params.values()) {
      params += w.size;
      if (w instanceof Bf16Tensor) bf16 += w.size;
    }
    const info = {
      model_type: model.cfg.modelType,
      parameters: params,
      bf16_parameters: bf16,
      text: { vocab: t.vocabSize, hidden: t.hiddenSize, layers: t.numLayers, heads: t.numHeads, kv_heads: t.numKvHeads, head_dim: t.headDim, ffn: t.intermediateSize, sliding_window: t.slidingWindow, global_layers: t.layerTypes.flatMap((l, i) => (l === 'full_attention' ? [i] : [])) },
      vision: model.cfg.modelType === 'gemma3' ? { image_size: model.cfg.vision.imageSize, patch: model.cfg.vision.patchSize, hidden: model.cfg.vision.hiddenSize, layers: model.cfg.vision.numLayers, tokens_per_image: model.cfg.mmTokensPerImage } : null,
    };
    if (args.flags.json) console.log(JSON.stringify(info));
    else {
      console.log(`${dir}: ${info.model_type}, ${(params / 1e6).toFixed(2)}M parameters${bf16 ? ` (${(bf16 / 1e6).toFixed(2)}M kept in bf16)` : ''}`);
      console.log(`  text decoder: vocab ${t.vocabSize}, width ${t.hiddenSize}, ${t.numLayers} layers (global: ${info.text.global_layers.join(', ') || 'none'}), ${t.numHeads} heads / ${t.numKvHeads} KV heads × ${t.headDim}, FFN ${t.intermediateSize}, window ${t.slidingWindow}`);
      if (info.vision) console.log(`  vision tower: ${info.vision.image_size}² images, patch ${info.vision.patch}, width ${info.vision.hidden}, ${info.vision.layers} layers → ${info.vision.tokens_per_image} tokens per image`);
    }
    return 0;
  },
};

const TYPES = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' } as const;

export const modelExportGgufCommand: Command = {
  name: 'model export-gguf',
  summary: 'write the text decoder (and optionally a LoRA adapter) as llama.cpp GGUF files',
  usage: '--model DIR --out FILE.gguf [--type f32|f16|bf16|q8_0] [--adapter DIR --adapter-out FILE.gguf]',
  description:
    'Exports the Gemma 3 text decoder for llama.cpp (architecture gemma3) with the vocabulary of\n' +
    'DIR/tokenizer.json. The vision tower is not exported. With --adapter, the PEFT adapter is written\n' +
    'as a llama.cpp LoRA GGUF (--adapter-out) to apply at run time (llama.cpp --lora FILE).',
  flags: [
    { name: 'model', type: 'string', help: 'model folder (config.json, model.safetensors, tokenizer.json)' },
    { name: 'out', type: 'string', help: 'output GGUF file of the model' },
    { name: 'type', type: 'string', help: 'tensor type of the matrices: f32, f16, bf16 or q8_0', default: 'f32' },
    { name: 'adapter', type: 'string', help: 'PEFT adapter folder to export as well' },
    { name: 'adapter-out', type: 'string', help: 'output GGUF file of the adapter' },
  ],
  run(args) {
    const dir = requireString(args, 'model');
    const out = requireString(args, 'out');
    const type = TYPES[String(args.flags.type) as keyof typeof TYPES];
    if (!type) throw new UsageError(`--type ${args.flags.type} is not one of f32, f16, bf16, q8_0`);
    if (!existsSync(join(dir, 'tokenizer.json'))) throw new UsageError(`${dir} has no tokenizer.json; the GGUF file needs the vocabulary`, 'copy the tokenizer files into the model folder');
    const model = loadModel(dir);
    const tok = Tokenizer.fromDir(dir);
    if (tok.vocabSize > model.text.vocabSize) throw new UsageError(`tokenizer.json has ${tok.vocabSize} tokens, the model's vocabulary ${model.text.vocabSize}`, 'use the tokenizer the model was trained with');
    exportGemma3Gguf(model, out, { vocab: vocabFromTokenizer(tok, model.text.vocabSize), type, name: dir.split('/').filter(Boolean).pop() });
    console.log(`wrote ${out} (${type})`);
    const adapter = args.flags.adapter as string | undefined;
    if (adapter) {
      const adapterOut = requireString(args, 'adapter-out');
      loadAdapter(model, adapter, 'export');
      exportLoraGguf(model, 'export', adapterOut);
      console.log(`wrote ${adapterOut} (LoRA r ${adapterConfig(model, 'export').r}, alpha ${adapterConfig(model, 'export').alpha})`);
    }
    return 0;
  },
};
