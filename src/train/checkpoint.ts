// Crash-safe checkpoints: each is a folder `step-NNNNNNNN` holding its files and a `manifest.json`
// with the sha256 of every file. Written into a temp folder, every file fsynced, renamed into place,
// the parent fsynced; older checkpoints are deleted only after the new one is in place. Loading
// verifies the manifest and falls back to the previous checkpoint when the newest is damaged.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FormatError } from '../errors/index.ts';
import { crashPoint, fsyncDir, fsyncFile, writeFileAtomic } from '../util/index.ts';

export const CHECKPOINT_SCHEMA = 'vlm2vla.checkpoint/1';

export interface CheckpointManifest {
  schema: typeof CHECKPOINT_SCHEMA;
  step: number;
  createdAt: string;
  files: Record<string, { sha256: string; bytes: number }>;
  /** Free-form state the trainer needs to resume (RNG state, data cursor, losses so far). */
  meta: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  step: number;
  dir: string;
  manifest: CheckpointManifest;
}

const NAME = /^step-(\d{8})$/;

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

export class CheckpointStore {
  constructor(
    readonly dir: string,
    /** How many complete checkpoints to keep (the newest ones). */
    readonly keep = 2,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {
    mkdirSync(dir, { recursive: true });
    // Temp folders of checkpoints that never completed are garbage.
    for (const name of readdirSync(dir))
      if (name.startsWith('.tmp-') || name.startsWith('.old-')) rmSync(join(dir, name), { recursive: true, force: true });
  }

  /** Steps of the checkpoint folders present, newest first (not yet verified). */
  steps(): number[] {
    return readdirSync(this.dir)
      .map((n) => NAME.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  }

  /** Writes a checkpoint. `write` puts its files into the folder it is given (any layout, no
   *  subfolders); the store hashes them, writes the manifest and makes it visible atomically. */
  async save(step: number, write: (tmpDir: string) => void | Promise<void>, meta: Record<string, unknown> = {}): Promise<string> {
    if (!Number.isInteger(step) || step < 0 || step > 99_999_999) throw new RangeError(`checkpoint step ${step} out of range`);
    const tmp = join(this.dir, `.tmp-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp);
    try {
      await write(tmp);
    } catch (e) {
      // A full disk (ENOSPC) mid-checkpoint: free what the partial checkpoint took, then report it.
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    crashPoint('checkpoint:files-written');
    const files: CheckpointManifest['files'] = {};
    for (const name of readdirSync(tmp).sort()) {
      const path = join(tmp, name);
      if (!statSync(path).isFile()) throw new Error(`checkpoint writer made a non-file ${name}`);
      fsyncFile(path);
      files[name] = { sha256: await sha256File(path), bytes: statSync(path).size };
    }
    const manifest: CheckpointManifest = { schema: CHECKPOINT_SCHEMA, step, createdAt: new Date().toISOString(), files, meta };
    writeFileAtomic(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
    fsyncDir(tmp);
    crashPoint('checkpoint:before-rename');
    const final = join(this.dir, `step-${String(step).padStart(8, '0')}`);
    if (existsSync(final)) {
      const old = join(this.dir, `.old-${randomBytes(4).toString('hex')}`);
      renameSync(final, old);
      renameSync(tmp, final);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, final);
    fsyncDir(this.dir);
    crashPoint('checkpoint:after-rename');
    for (const s of this.steps().slice(this.keep))
      rmSync(join(this.dir, `step-${String(s).padStart(8, '0')}`), { recursive: true, force: true });
    return final;
  }

  /** Verifies one checkpoint folder; throws a typed error naming the damaged file. */
  async verify(step: number): Promise<LoadedCheckpoint> {
    const dir = join(this.dir, `step-${String(step).padStart(8, '0')}`);
    const manifestPath = join(dir, 'manifest.json');
    let manifest: CheckpointManifest;
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as CheckpointManifest;
    } catch (cause) {
      throw new FormatError('E_CHECKPOINT_MANIFEST', `${manifestPath} is missing or not JSON`, {
        file: manifestPath,
        fix: 'the checkpoint is incomplete; an older one will be used',
        cause,
      });
    }
    if (manifest?.schema !== CHECKPOINT_SCHEMA || manifest.step !== step || typeof manifest.files !== 'object' || manifest.files === null) {
      throw new FormatError('E_CHECKPOINT_MANIFEST', `${manifestPath} is not a ${CHECKPOINT_SCHEMA} manifest for step ${step}`, {
        file: manifestPath,
        field: 'schema',
        fix: 'the checkpoint is damaged; an older one will be used',
      });
    }
    for (const [name, entry] of Object.entries(manifest.files)) {
      const path = join(dir, name);
      if (!existsSync(path) || statSync(path).size !== entry.bytes || (await sha256File(path)) !== entry.sha256) {
        throw new FormatError('E_CHECKPOINT_CORRUPT', `${path} does not match its sha256 in the manifest`, {
          file: path,
          fix: 'the checkpoint is damaged; an older one will be used',
        });
      }
    }
    return { step, dir, manifest };
  }

  /** The newest checkpoint that verifies, or null. Damaged ones are reported and skipped. */
  async latest(): Promise<LoadedCheckpoint | null> {
    for (const step of this.steps()) {
      try {
        return await this.verify(step);
      } catch (e) {
        this.warn(`skipping checkpoint step ${step}: ${(e as Error).message}`);
      }
    }
    return null;
  }
}
