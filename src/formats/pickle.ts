// Pickle is code: PyTorch's `.bin`/`.pt`/`.pth`/`.ckpt`/`.pkl` weight files are refused by name,
// never opened (RELIABILITY: no pickle, ever), with a message that names safetensors.
import { FormatError } from '../errors/index.ts';

/** Pickle is code: `.bin`/`.pt`/`.pth`/`.ckpt` weights are refused, never opened. */
export function refusePickle(path: string): void {
  if (/\.(bin|pt|pth|ckpt|pkl)$/i.test(path)) {
    throw new FormatError('E_PICKLE_REFUSED', `${path} is a PyTorch pickle file; vlm2vla never loads pickles (they run code)`, {
      file: path,
      fix: 'convert it to safetensors (e.g. `safetensors.torch.save_file(torch.load(p), "adapter_model.safetensors")` on a trusted machine)',
    });
  }
}
