// `vlm2vla tokenizer encode|train`: look at how a model folder tokenizes text and chat prompts, and
// train the byte-fallback BPE tokenizer of the embedded model from a text corpus.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { ChatTemplate, Tokenizer, trainBpe } from '../../tokenizer/index.ts';
import { writeFileAtomic } from '../../util/index.ts';

export const tokenizerEncodeCommand = defineCommand({
  name: 'tokenizer encode',
  summary: "show the token ids and pieces of a text under a model folder's tokenizer",
  positionals: 'TEXT',
  description:
    'Reads DIR/tokenizer.json (and tokenizer_config.json). With --chat the text is sent as one user turn\n' +
    'through the chat template (vetted first) with the generation prompt, as the model would see it.',
  flags: {
    model: { type: 'string', required: true, meta: 'DIR', help: 'model folder holding tokenizer.json' },
    chat: { type: 'boolean', help: 'render TEXT as a user turn with the chat template first' },
    special: { type: 'boolean', help: 'add the special tokens the post-processor adds (e.g. <bos>)' },
    json: { type: 'boolean', help: 'print JSON instead of a table' },
  },
  run(f, positionals) {
    const dir = f.model;
    const text = positionals.join(' ');
    if (text === '')
      throw new UsageError('give the text to encode after the flags', 'vlm2vla tokenizer encode --model DIR "put the carrot in the pot"');
    const tok = Tokenizer.fromDir(dir);
    let input = text;
    if (f.chat) {
      const template = ChatTemplate.fromConfig(tok.config, join(dir, 'tokenizer_config.json'));
      if (!template) throw new UsageError(`${dir}/tokenizer_config.json has no chat_template`, 'drop --chat, or use a chat model');
      input = template.render([{ role: 'user', content: text }], { addGenerationPrompt: true });
    }
    const ids = tok.encode(input, { addSpecial: f.special && !f.chat });
    const pieces = ids.map((id) => tok.idToToken(id) ?? '?');
    if (f.json) {
      console.log(JSON.stringify({ text: input, ids, pieces }));
    } else {
      console.log(`${ids.length} tokens (vocabulary ${tok.vocabSize})`);
      for (let i = 0; i < ids.length; i++) console.log(`${String(ids[i]).padStart(7)}  ${JSON.stringify(pieces[i])}`);
    }
    return 0;
  },
});

export const tokenizerTrainCommand = defineCommand({
  name: 'tokenizer train',
  summary: 'train a byte-fallback BPE tokenizer (Gemma 3 layout) from a text corpus',
  description:
    'FILE is plain text (one document per line) or JSONL with a "text" field per line. Writes\n' +
    'DIR/tokenizer.json and DIR/tokenizer_config.json (with the Gemma 3 style chat template).\n' +
    'Digits always stay single tokens; unseen characters fall back to byte tokens.',
  flags: {
    corpus: { type: 'string', required: true, meta: 'FILE', help: 'text or JSONL corpus file' },
    'vocab-size': {
      type: 'number',
      integer: true,
      min: 300,
      default: 4096,
      help: 'total vocabulary size (specials + 256 bytes + characters + merges)',
    },
    'min-char-frequency': { type: 'number', integer: true, min: 1, default: 2, help: 'rarer characters are left to byte fallback' },
    out: { type: 'string', required: true, meta: 'DIR', help: 'output folder' },
  },
  run(f) {
    const { corpus, out } = f;
    const vocabSize = f['vocab-size'];
    let size: number;
    try {
      size = statSync(corpus).size;
    } catch {
      throw new UsageError(`corpus file ${corpus} does not exist`);
    }
    if (size > 512 * 1024 * 1024) throw new UsageError(`corpus ${corpus} is larger than 512 MB`, 'train on a sample of it');
    const lines = readFileSync(corpus, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const texts = lines.map((line, i) => {
      if (!line.startsWith('{')) return line;
      try {
        const rec = JSON.parse(line) as { text?: unknown };
        if (typeof rec.text === 'string') return rec.text;
      } catch {
        // fall through to the error below
      }
      throw new UsageError(`${corpus}:${i + 1} is not JSON with a string "text" field`, 'use plain text lines or JSONL {"text": "..."}');
    });
    const t0 = performance.now();
    const trained = trainBpe(texts, { vocabSize, minCharFrequency: f['min-char-frequency'] });
    writeFileAtomic(join(out, 'tokenizer.json'), JSON.stringify(trained.tokenizerJson));
    writeFileAtomic(join(out, 'tokenizer_config.json'), `${JSON.stringify(trained.tokenizerConfig, null, 2)}\n`);
    const tok = Tokenizer.fromDir(out);
    let tokens = 0;
    let chars = 0;
    for (const t of texts.slice(0, 2000)) {
      tokens += tok.encode(t).length;
      chars += t.length;
    }
    console.log(`trained ${trained.merges} merges on ${texts.length} documents in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`vocabulary ${tok.vocabSize}; ${(chars / Math.max(1, tokens)).toFixed(2)} characters per token on the corpus`);
    console.log(`wrote ${join(out, 'tokenizer.json')} and tokenizer_config.json`);
    return 0;
  },
});
