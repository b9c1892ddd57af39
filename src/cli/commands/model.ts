// `vlm2vla model info|export-gguf`: what a Hugging Face model folder holds, and its text decoder (and
// a LoRA adapter) as llama.cpp GGUF files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { Bf16Tensor } from '../../tensor/index.ts';
import { loadModel, loadAdapter, adapterConfig } from '../../models/index.ts';
import { exportGemma3Gguf, exportLoraGguf, vocabFromTokenizer } from '../../models/gemma3/gguf.ts';
import { Tokenizer } from '../../tokenizer/index.ts';
import { checkOutputFile } from '../../util/index.ts';

export const modelInfoCommand = defineCommand({
  name: 'model info',
  summary: 'describe a Hugging Face model folder (architecture, sizes, parameters, dtypes)',
  description: 'Loads config.json and the safetensors weights (every name and shape is checked) and prints a summary.',
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'model folder (config.json + model.safetensors)' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  run(f) {
    const dir = f.model;
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
      text: {
        vocab: t.vocabSize,
        hidden: t.hiddenSize,
        layers: t.numLayers,
        heads: t.numHeads,
        kv_heads: t.numKvHeads,
        head_dim: t.headDim,
        ffn: t.intermediateSize,
        sliding_window: t.slidingWindow,
        global_layers: t.layerTypes.flatMap((l, i) => (l === 'full_attention' ? [i] : [])),
      },
      vision:
        model.cfg.modelType === 'gemma3'
          ? {
              image_size: model.cfg.vision.imageSize,
              patch: model.cfg.vision.patchSize,
              hidden: model.cfg.vision.hiddenSize,
              layers: model.cfg.vision.numLayers,
              tokens_per_image: model.cfg.mmTokensPerImage,
            }
          : null,
    };
    if (f.json) console.log(JSON.stringify(info));
    else {
      console.log(
        `${dir}: ${info.model_type}, ${(params / 1e6).toFixed(2)}M parameters${bf16 ? ` (${(bf16 / 1e6).toFixed(2)}M kept in bf16)` : ''}`,
      );
      console.log(
        `  text decoder: vocab ${t.vocabSize}, width ${t.hiddenSize}, ${t.numLayers} layers (global: ${info.text.global_layers.join(', ') || 'none'}), ${t.numHeads} heads / ${t.numKvHeads} KV heads × ${t.headDim}, FFN ${t.intermediateSize}, window ${t.slidingWindow}`,
      );
      if (info.vision)
        console.log(
          `  vision tower: ${info.vision.image_size}² images, patch ${info.vision.patch}, width ${info.vision.hidden}, ${info.vision.layers} layers → ${info.vision.tokens_per_image} tokens per image`,
        );
    }
    return 0;
  },
});

const TYPES = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' } as const;

export const modelExportGgufCommand = defineCommand({
  name: 'model export-gguf',
  summary: 'write the text decoder (and optionally a LoRA adapter) as llama.cpp GGUF files',
  description:
    'Exports the Gemma 3 text decoder for llama.cpp (architecture gemma3) with the vocabulary of\n' +
    'DIR/tokenizer.json. The vision tower is not exported. With --adapter, the PEFT adapter is written\n' +
    'as a llama.cpp LoRA GGUF (--adapter-out) to apply at run time (llama.cpp --lora FILE).',
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'model folder (config.json, model.safetensors, tokenizer.json)' },
    out: { type: 'string', required: true, meta: 'FILE.gguf', help: 'output GGUF file of the model' },
    type: { type: 'string', default: 'f32', choices: ['f32', 'f16', 'bf16', 'q8_0'], help: 'tensor type of the matrices' },
    adapter: { type: 'string', meta: 'DIR', help: 'PEFT adapter folder to export as well (needs --adapter-out)' },
    'adapter-out': { type: 'string', meta: 'FILE.gguf', help: 'output GGUF file of the adapter' },
  },
  run(f) {
    const { model: dir, out } = f;
    const type = TYPES[f.type];
    if (f.adapter && !f['adapter-out']) throw new UsageError('--adapter needs --adapter-out', 'name the GGUF file the adapter goes to');
    checkOutputFile(out);
    if (f['adapter-out']) checkOutputFile(f['adapter-out']);
    if (!existsSync(join(dir, 'tokenizer.json')))
      throw new UsageError(
        `${dir} has no tokenizer.json; the GGUF file needs the vocabulary`,
        'copy the tokenizer files into the model folder',
      );
    const model = loadModel(dir);
    const tok = Tokenizer.fromDir(dir);
    if (tok.vocabSize > model.text.vocabSize)
      throw new UsageError(
        `tokenizer.json has ${tok.vocabSize} tokens, the model's vocabulary ${model.text.vocabSize}`,
        'use the tokenizer the model was trained with',
      );
    exportGemma3Gguf(model, out, {
      vocab: vocabFromTokenizer(tok, model.text.vocabSize),
      type,
      name: dir.split('/').filter(Boolean).pop(),
    });
    console.log(`wrote ${out} (${type})`);
    const adapter = f.adapter;
    const adapterOut = f['adapter-out'];
    if (adapter && adapterOut) {
      loadAdapter(model, adapter, 'export');
      exportLoraGguf(model, 'export', adapterOut);
      console.log(`wrote ${adapterOut} (LoRA r ${adapterConfig(model, 'export').r}, alpha ${adapterConfig(model, 'export').alpha})`);
    }
    return 0;
  },
});
