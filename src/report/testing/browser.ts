// Headless Chromium for the page tests, driven over the DevTools protocol (the `ws` package): load a
// page, collect console errors, uncaught exceptions and failed loads, evaluate an expression in it,
// and take a screenshot. Chromium comes from Debian; when it is missing and we run as root, one
// `apt-get install -y chromium` is tried, else the caller skips with the reason.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

function which(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

let found: { path: string | null; reason: string } | undefined;

/** The Chromium binary, installing Debian's package once when missing and running as root; or null
 *  with the reason. */
export function findChromium(): { path: string | null; reason: string } {
  if (found) return found;
  for (const c of CANDIDATES) {
    const p = which(c);
    if (p) return (found = { path: p, reason: '' });
  }
  if (process.getuid?.() !== 0)
    return (found = { path: null, reason: 'chromium is not installed and installing it needs root: run `apt-get install -y chromium`' });
  const r = spawnSync('apt-get', ['install', '-y', 'chromium'], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const p = which('chromium');
  return (found = p
    ? { path: p, reason: '' }
    : {
        path: null,
        reason: `chromium is not installed and \`apt-get install -y chromium\` failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}`,
      });
}

export interface PageResult {
  /** Console errors, uncaught exceptions and failed loads, as text. */
  errors: string[];
  /** The value of the expression evaluated after the load. */
  value: unknown;
}

export interface Browser {
  open(url: string, expression: string, screenshot?: { width: number; height: number }): Promise<PageResult & { png?: Buffer }>;
  close(): Promise<void>;
}

/** Starts headless Chromium with background networking off. */
export async function launchBrowser(path: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'vlm2vla-chromium-'));
  const args = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--remote-debugging-port=0',
    `--user-data-dir=${profile}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    '--metrics-recording-only',
    '--hide-scrollbars',
    'about:blank',
  ];
  const child: ChildProcess = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const wsUrl = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start in 60 s: ${err.slice(-500)}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited with ${code}: ${err.slice(-500)}`));
    });
  });
  child.stderr!.resume();
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(msg: { method: string; params: any; sessionId?: string }) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: unknown;
      sessionId?: string;
    };
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    } else if (msg.method) for (const l of listeners) l(msg as { method: string; params: any; sessionId?: string });
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  return {
    async open(url, expression, screenshot) {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
      const errors: string[] = [];
      let loaded!: () => void;
      const load = new Promise<void>((r) => (loaded = r));
      const listener = (m: { method: string; params: any; sessionId?: string }) => {
        if (m.sessionId !== sessionId) return;
        if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'assert'))
          errors.push(
            `console.${m.params.type}: ${m.params.args.map((a: { value?: unknown; description?: string }) => a.value ?? a.description).join(' ')}`,
          );
        if (m.method === 'Runtime.exceptionThrown')
          errors.push(`exception: ${m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text}`);
        if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error')
          errors.push(`log: ${m.params.entry.text} ${m.params.entry.url ?? ''}`);
        if (m.method === 'Page.loadEventFired') loaded();
      };
      listeners.add(listener);
      try {
        await send('Runtime.enable', {}, sessionId);
        await send('Log.enable', {}, sessionId);
        await send('Page.enable', {}, sessionId);
        if (screenshot)
          await send(
            'Emulation.setDeviceMetricsOverride',
            { width: screenshot.width, height: screenshot.height, deviceScaleFactor: 1, mobile: false },
            sessionId,
          );
        const nav = await send('Page.navigate', { url }, sessionId);
        if (nav.errorText) errors.push(`navigation: ${nav.errorText}`);
        await Promise.race([load, new Promise((r) => setTimeout(r, 30_000))]);
        await new Promise((r) => setTimeout(r, 300));
        const ev = await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId);
        if (ev.exceptionDetails) errors.push(`evaluate: ${ev.exceptionDetails.exception?.description ?? ev.exceptionDetails.text}`);
        const png = screenshot
          ? Buffer.from((await send('Page.captureScreenshot', { format: 'png' }, sessionId)).data as string, 'base64')
          : undefined;
        return { errors, value: ev.result?.value, ...(png ? { png } : {}) };
      } finally {
        listeners.delete(listener);
        await send('Target.closeTarget', { targetId }).catch(() => undefined);
      }
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      ws.close();
      await new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        const t = setTimeout(() => (child.kill('SIGKILL'), r()), 5000);
        child.once('exit', () => (clearTimeout(t), r()));
      });
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
