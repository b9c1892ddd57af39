// Child process that exercises untrusted tokenizer regexes and chat templates under a heap limit;
// the parent kills it on timeout. Input: one JSON job on stdin. Output: one JSON line on stdout.
import { Template } from '@huggingface/jinja';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const job = JSON.parse(input);
  try {
    if (job.kind === 'regex') {
      for (const pattern of job.patterns) {
        const re = new RegExp(pattern, 'gu');
        for (const probe of job.probes)
          for (const _ of probe.matchAll(re)) {
            /* exhaust */
          }
      }
      process.stdout.write(JSON.stringify({ ok: true }) + '\n');
    } else if (job.kind === 'template') {
      const template = new Template(job.template);
      const outputs = job.probes.map((ctx) => template.render(ctx));
      process.stdout.write(JSON.stringify({ ok: true, outputs }) + '\n');
    } else {
      process.stdout.write(JSON.stringify({ ok: false, error: `unknown job kind ${job.kind}` }) + '\n');
    }
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error && error.message ? error.message : error) }) + '\n');
  }
});
