// The stamp of a compiled dist/ (dist/stamp.json): the source tree it was built from, so that
// bin/vlm2vla.mjs can tell at every start, without listing src/, whether the sources changed since.
//
// Sources are src/'s .ts, .mjs and .json files, tests (*.test.ts) excepted. The stamp records the
// newest source mtime when the build began and, per folder of src/, the folder's mtime and the names
// of its sources and subfolders. The check stats each recorded folder and source once: a folder whose
// mtime moved had entries added, removed or renamed, and only such a folder is listed again (a new
// test file changes nothing; a new, removed or renamed source or folder does); a source newer than the
// stamp was edited in place, which changes no folder's mtime (editors that write in place, scripts).
// A source replaced by an older file of the same name is not seen (nor is it by comparing mtimes alone).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const isSource = (name) => /\.(ts|mjs|json)$/.test(name) && !name.endsWith('.test.ts');

/** A folder's sources and subfolders, sorted. */
function listing(dir) {
  const files = [];
  const dirs = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) dirs.push(e.name);
    else if (e.isFile() && isSource(e.name)) files.push(e.name);
  }
  return { files: files.sort(), dirs: dirs.sort() };
}

/** The stamp of ROOT/src as it is now (taken before compiling, so an edit during the build counts). */
export function sourceStamp(root) {
  const src = join(root, 'src');
  const folders = {};
  let newestSource = 0;
  const visit = (rel) => {
    const dir = join(src, rel);
    const { files, dirs } = listing(dir);
    folders[rel] = { mtimeMs: statSync(dir).mtimeMs, files, dirs };
    for (const f of files) newestSource = Math.max(newestSource, statSync(join(dir, f)).mtimeMs);
    for (const d of dirs) visit(rel ? `${rel}/${d}` : d);
  };
  visit('');
  return { newestSource, folders };
}

/** Whether ROOT/src differs from `stamp` (a stamp of another format, or none, counts as changed). */
export function sourcesChanged(root, stamp) {
  if (!stamp || typeof stamp.newestSource !== 'number' || !stamp.folders || !('' in stamp.folders)) return true;
  const src = join(root, 'src');
  for (const [rel, was] of Object.entries(stamp.folders)) {
    const dir = join(src, rel);
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st || !st.isDirectory()) return true;
    if (st.mtimeMs !== was.mtimeMs) {
      const now = listing(dir);
      if (now.files.join('/') !== was.files.join('/') || now.dirs.join('/') !== was.dirs.join('/')) return true;
    }
    for (const f of was.files) {
      const fst = statSync(join(dir, f), { throwIfNoEntry: false });
      if (!fst || fst.mtimeMs > stamp.newestSource) return true;
    }
  }
  return false;
}
