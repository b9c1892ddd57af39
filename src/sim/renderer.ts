// A software ray caster for the tabletop: a perspective camera over the robot's shoulder (like
// Bridge's main camera), objects as Lambert-shaded primitives (sphere/ellipsoid, yawed box, vertical
// cylinder), the gripper as a palm and two fingers whose gap shows the aperture, and shadows cast
// straight down onto the table so the gripper's height can be read from the image. Deterministic:
// no randomness, no time. Output: RGB [height, width, 3].
import type { RgbImage } from '../data/image.ts';
import { encodeJpeg, encodePng } from '../data/image.ts';
import type { EncodedImage } from '../data/episode.ts';
import type { World } from './world.ts';
import { INNER_FLOOR, isOpenContainer } from './world.ts';

interface Prim {
  /** open-cylinder: a bowl or pot — outer wall, rim, inner wall and inner bottom, no lid. */
  kind: 'ellipsoid' | 'box' | 'cylinder' | 'open-cylinder';
  c: [number, number, number];
  h: [number, number, number];
  cos: number;
  sin: number;
  rgb: readonly [number, number, number];
  /** Casts a shadow (everything but containers lying flat). */
  shadow: boolean;
  /** What the primitive is part of: the index of its object in world.objects, or GRIPPER_OWNER. */
  owner: number;
}

/** Owner-map values of `render`: the gripper, and what is not an object (table, wall). */
export const GRIPPER_OWNER = -2;
export const NO_OWNER = -1;

export interface CameraSpec {
  eye: [number, number, number];
  target: [number, number, number];
  fovDeg: number;
}

/** Over the shoulder: behind and above the robot base, looking down at the workspace. */
export const DEFAULT_CAMERA: CameraSpec = { eye: [-0.12, 0, 0.5], target: [0.36, 0, 0], fovDeg: 58 };

const LIGHT = (() => {
  const l = [0.35, 0.25, 1];
  const n = Math.hypot(l[0]!, l[1]!, l[2]!);
  return l.map((v) => v / n) as [number, number, number];
})();
const AMBIENT = 0.38;
const TABLE_RGB: [number, number, number] = [196, 164, 120];
const WALL_RGB: [number, number, number] = [120, 128, 138];
const GRIPPER_RGB: [number, number, number] = [70, 72, 80];
/** Wall thickness of bowls and pots (m). */
const WALL = 0.006;

function primitives(world: World): Prim[] {
  const out: Prim[] = [];
  world.objects.forEach((o, owner) => {
    const s = o.spec;
    const kind = s.shape === 'sphere' || s.shape === 'ellipsoid' ? 'ellipsoid' : isOpenContainer(s) ? 'open-cylinder' : s.shape;
    const h: [number, number, number] = s.shape === 'sphere' ? [s.size[0], s.size[0], s.size[0]] : [s.size[0], s.size[1], s.size[2]];
    out.push({
      kind,
      c: [o.x, o.y, o.z],
      h,
      cos: Math.cos(o.yaw),
      sin: Math.sin(o.yaw),
      rgb: s.colour.rgb,
      shadow: !(s.container && s.size[2] < 0.01),
      owner,
    });
  });
  const g = world.gripper;
  const c = Math.cos(g.yaw);
  const sn = Math.sin(g.yaw);
  const gap = g.aperture === 1 ? 0.035 : 0.012;
  // Palm above the fingertips, fingers reaching down to z (the grasp point).
  out.push({
    kind: 'box',
    c: [g.x, g.y, g.z + 0.07],
    h: [0.02, 0.05, 0.012],
    cos: c,
    sin: sn,
    rgb: GRIPPER_RGB,
    shadow: true,
    owner: GRIPPER_OWNER,
  });
  out.push({
    kind: 'cylinder',
    c: [g.x, g.y, g.z + 0.14],
    h: [0.015, 0.015, 0.06],
    cos: 1,
    sin: 0,
    rgb: [110, 112, 120],
    shadow: true,
    owner: GRIPPER_OWNER,
  });
  for (const side of [-1, 1]) {
    out.push({
      kind: 'box',
      c: [g.x - sn * side * gap, g.y + c * side * gap, g.z + 0.03],
      h: [0.012, 0.005, 0.03],
      cos: c,
      sin: sn,
      rgb: GRIPPER_RGB,
      shadow: true,
      owner: GRIPPER_OWNER,
    });
  }
  return out;
}

/** Ray (o + t·d) against a primitive: nearest t > 0 and the world normal, or t = Infinity. */
function intersect(p: Prim, o: [number, number, number], d: [number, number, number], n: [number, number, number]): number {
  // Into the local frame: translate, rotate by -yaw.
  const ox = o[0] - p.c[0];
  const oy = o[1] - p.c[1];
  const oz = o[2] - p.c[2];
  const lx = p.cos * ox + p.sin * oy;
  const ly = -p.sin * ox + p.cos * oy;
  const dx = p.cos * d[0] + p.sin * d[1];
  const dy = -p.sin * d[0] + p.cos * d[1];
  const dz = d[2];
  const hx = p.h[0];
  const hy = p.h[1];
  const hz = p.h[2];
  let t = Infinity;
  let nx = 0;
  let ny = 0;
  let nz = 0;
  if (p.kind === 'ellipsoid') {
    const ax = lx / hx,
      ay = ly / hy,
      az = oz / hz;
    const bx = dx / hx,
      by = dy / hy,
      bz = dz / hz;
    const A = bx * bx + by * by + bz * bz;
    const B = ax * bx + ay * by + az * bz;
    const C = ax * ax + ay * ay + az * az - 1;
    const disc = B * B - A * C;
    if (disc < 0) return Infinity;
    const r = (-B - Math.sqrt(disc)) / A;
    if (r <= 1e-6) return Infinity;
    t = r;
    nx = (lx + dx * t) / (hx * hx);
    ny = (ly + dy * t) / (hy * hy);
    nz = (oz + dz * t) / (hz * hz);
  } else if (p.kind === 'box') {
    let tmin = -Infinity;
    let tmax = Infinity;
    let axis = -1;
    let sign = 0;
    const oo = [lx, ly, oz];
    const dd = [dx, dy, dz];
    for (let a = 0; a < 3; a++) {
      const oa = oo[a]!;
      const da = dd[a]!;
      const ha = p.h[a]!;
      if (Math.abs(da) < 1e-12) {
        if (oa < -ha || oa > ha) return Infinity;
        continue;
      }
      let t1 = (-ha - oa) / da;
      let t2 = (ha - oa) / da;
      let sg = -1;
      if (t1 > t2) {
        const tmp = t1;
        t1 = t2;
        t2 = tmp;
        sg = 1;
      }
      if (t1 > tmin) {
        tmin = t1;
        axis = a;
        sign = sg;
      }
      if (t2 < tmax) tmax = t2;
      if (tmin > tmax) return Infinity;
    }
    if (tmin <= 1e-6) return Infinity;
    t = tmin;
    if (axis === 0) nx = sign;
    else if (axis === 1) ny = sign;
    else nz = sign;
  } else if (p.kind === 'open-cylinder') {
    // Outer wall (near root, outward normal), rim annulus at z = h, inner wall seen from inside
    // (far root, inward normal) and the inner bottom; the nearest of these is the hit.
    const r = hx;
    const ri = r - WALL;
    const floor = -hz + INNER_FLOOR;
    const A = dx * dx + dy * dy;
    const B = lx * dx + ly * dy;
    if (A > 1e-12) {
      const discO = B * B - A * (lx * lx + ly * ly - r * r);
      if (discO < 0) return Infinity; // misses the outer cylinder: misses everything
      const so = (-B - Math.sqrt(discO)) / A;
      const zo = oz + dz * so;
      if (so > 1e-6 && zo >= -hz && zo <= hz) {
        t = so;
        nx = lx + dx * so;
        ny = ly + dy * so;
      }
      const discI = B * B - A * (lx * lx + ly * ly - ri * ri);
      if (discI >= 0) {
        const si = (-B + Math.sqrt(discI)) / A;
        const zi = oz + dz * si;
        if (si > 1e-6 && si < t && zi >= floor && zi <= hz) {
          t = si;
          nx = -(lx + dx * si);
          ny = -(ly + dy * si);
        }
      }
    }
    if (Math.abs(dz) > 1e-12) {
      const sr = (hz - oz) / dz;
      if (sr > 1e-6 && sr < t) {
        const x = lx + dx * sr;
        const y = ly + dy * sr;
        const q = x * x + y * y;
        if (q <= r * r && q >= ri * ri) {
          t = sr;
          nx = 0;
          ny = 0;
          nz = 1;
        }
      }
      const sf = (floor - oz) / dz;
      if (sf > 1e-6 && sf < t) {
        const x = lx + dx * sf;
        const y = ly + dy * sf;
        if (x * x + y * y <= ri * ri) {
          t = sf;
          nx = 0;
          ny = 0;
          nz = 1;
        }
      }
    }
    if (t === Infinity) return Infinity;
  } else {
    // Vertical cylinder: side x² + y² = r², caps z = ±h.
    const r = hx;
    const A = dx * dx + dy * dy;
    if (A > 1e-12) {
      const B = lx * dx + ly * dy;
      const C = lx * lx + ly * ly - r * r;
      const disc = B * B - A * C;
      if (disc >= 0) {
        const s = (-B - Math.sqrt(disc)) / A;
        const z = oz + dz * s;
        if (s > 1e-6 && z >= -hz && z <= hz) {
          t = s;
          nx = lx + dx * s;
          ny = ly + dy * s;
          nz = 0;
        }
      }
    }
    if (Math.abs(dz) > 1e-12) {
      for (const cap of [hz, -hz]) {
        const s = (cap - oz) / dz;
        if (s > 1e-6 && s < t) {
          const x = lx + dx * s;
          const y = ly + dy * s;
          if (x * x + y * y <= r * r) {
            t = s;
            nx = 0;
            ny = 0;
            nz = Math.sign(cap);
          }
        }
      }
    }
    if (t === Infinity) return Infinity;
  }
  // Back to world orientation.
  const wx = p.cos * nx - p.sin * ny;
  const wy = p.sin * nx + p.cos * ny;
  const len = Math.hypot(wx, wy, nz) || 1;
  n[0] = wx / len;
  n[1] = wy / len;
  n[2] = nz / len;
  return t;
}

/** Whether (x, y) on the table lies under a shadow-casting primitive (light straight above). */
function inShadow(prims: Prim[], x: number, y: number): boolean {
  for (const p of prims) {
    if (!p.shadow) continue;
    const ox = x - p.c[0];
    const oy = y - p.c[1];
    const lx = p.cos * ox + p.sin * oy;
    const ly = -p.sin * ox + p.cos * oy;
    if (p.kind === 'box') {
      if (Math.abs(lx) <= p.h[0] && Math.abs(ly) <= p.h[1]) return true;
    } else if ((lx / p.h[0]) ** 2 + (ly / p.h[1]) ** 2 <= 1) return true;
  }
  return false;
}

/** Camera basis: forward f, right r (the robot's right, −y, seen from behind), up u, and the
 *  tangent of half the vertical field of view. */
function cameraBasis(camera: CameraSpec): { f: number[]; r: number[]; u: number[]; scale: number } {
  const [ex, ey, ez] = camera.eye;
  let f = [camera.target[0] - ex, camera.target[1] - ey, camera.target[2] - ez];
  const fl = Math.hypot(f[0]!, f[1]!, f[2]!);
  f = f.map((v) => v / fl);
  let r = [f[1]!, -f[0]!, 0]; // f × world up
  const rl = Math.hypot(r[0]!, r[1]!) || 1;
  r = r.map((v) => v / rl);
  const u = [r[1]! * f[2]! - r[2]! * f[1]!, r[2]! * f[0]! - r[0]! * f[2]!, r[0]! * f[1]! - r[1]! * f[0]!];
  return { f, r, u, scale: Math.tan((camera.fovDeg * Math.PI) / 360) };
}

/** Where a world point appears in a width × height frame: [column, row] in pixels (pixel centres at
 *  integers), or null behind the camera. */
export function projectPoint(
  point: readonly [number, number, number],
  width: number,
  height: number,
  camera: CameraSpec = DEFAULT_CAMERA,
): [number, number] | null {
  const { f, r, u, scale } = cameraBasis(camera);
  const v = [point[0] - camera.eye[0], point[1] - camera.eye[1], point[2] - camera.eye[2]];
  const depth = v[0]! * f[0]! + v[1]! * f[1]! + v[2]! * f[2]!;
  if (depth <= 1e-9) return null;
  const sx = (v[0]! * r[0]! + v[1]! * r[1]! + v[2]! * r[2]!) / depth / (scale * (width / height));
  const sy = (v[0]! * u[0]! + v[1]! * u[1]! + v[2]! * u[2]!) / depth / scale;
  return [((sx + 1) * width) / 2 - 0.5, ((1 - sy) * height) / 2 - 0.5];
}

/** Renders the world. Given `owners` (width × height values), also writes what each pixel shows: the
 *  index of its object in world.objects, GRIPPER_OWNER or NO_OWNER (dense labels for the vision
 *  stage of pretraining). */
export function render(world: World, width = 256, height = 256, camera: CameraSpec = DEFAULT_CAMERA, owners?: Int16Array): RgbImage {
  if (owners && owners.length !== width * height) throw new RangeError(`owners holds ${owners.length} values, not ${width}×${height}`);
  const prims = primitives(world);
  const [ex, ey, ez] = camera.eye;
  const { f, r, u, scale } = cameraBasis(camera);
  const rgb = new Uint8Array(width * height * 3);
  // Screen rectangle of each primitive's bounding sphere: a pixel only tests what may cover it.
  const aspect = width / height;
  const rect = prims.map((p) => {
    const R = Math.hypot(p.h[0], p.h[1], p.h[2]);
    const v = [p.c[0] - ex, p.c[1] - ey, p.c[2] - ez];
    const depth = v[0]! * f[0]! + v[1]! * f[1]! + v[2]! * f[2]!;
    if (depth <= R) return [0, width, 0, height];
    const sx = (v[0]! * r[0]! + v[1]! * r[1]! + v[2]! * r[2]!) / depth / scale / aspect;
    const sy = (v[0]! * u[0]! + v[1]! * u[1]! + v[2]! * u[2]!) / depth / scale;
    const cx = ((sx + 1) / 2) * width;
    const cy = ((1 - sy) / 2) * height;
    const rad = (R / Math.sqrt(depth * depth - R * R) / scale) * (height / 2) * 1.05 + 2;
    return [Math.floor(cx - rad * (height / width) * aspect), Math.ceil(cx + rad), Math.floor(cy - rad), Math.ceil(cy + rad)];
  });
  const o: [number, number, number] = [ex, ey, ez];
  const d: [number, number, number] = [0, 0, 0];
  const n: [number, number, number] = [0, 0, 0];
  const best: [number, number, number] = [0, 0, 0];
  // Primitives whose screen rectangle covers the current row (indices), refilled once per row.
  const rowPrims = new Int32Array(prims.length);
  for (let py = 0; py < height; py++) {
    const sy = (1 - (2 * (py + 0.5)) / height) * scale;
    let nRow = 0;
    for (let k = 0; k < prims.length; k++) {
      const b = rect[k]!;
      if (py >= b[2]! && py <= b[3]!) rowPrims[nRow++] = k;
    }
    for (let px = 0; px < width; px++) {
      const sx = ((2 * (px + 0.5)) / width - 1) * scale * (width / height);
      // Image right is -y (the robot's right) as seen from behind the robot.
      d[0] = f[0]! + sx * r[0]! + sy * u[0]!;
      d[1] = f[1]! + sx * r[1]! + sy * u[1]!;
      d[2] = f[2]! + sx * r[2]! + sy * u[2]!;
      let tBest = Infinity;
      let owner = NO_OWNER;
      let colour: readonly [number, number, number] = WALL_RGB;
      for (let j = 0; j < nRow; j++) {
        const k = rowPrims[j]!;
        const b = rect[k]!;
        if (px < b[0]! || px > b[1]!) continue;
        const p = prims[k]!;
        const t = intersect(p, o, d, n);
        if (t < tBest) {
          tBest = t;
          owner = p.owner;
          colour = p.rgb;
          best[0] = n[0];
          best[1] = n[1];
          best[2] = n[2];
        }
      }
      let shade: number;
      if (d[2] < 0) {
        const tTable = -ez / d[2];
        if (tTable < tBest) {
          tBest = tTable;
          owner = NO_OWNER;
          const x = ex + d[0] * tTable;
          const y = ey + d[1] * tTable;
          const onTable = x > -0.05 && x < 0.75 && y > -0.45 && y < 0.45;
          colour = onTable ? TABLE_RGB : WALL_RGB;
          shade = inShadow(prims, x, y) ? AMBIENT + 0.15 : 1;
          // Faint 10 cm grid lines help read depth.
          if (onTable && (Math.abs(x * 10 - Math.round(x * 10)) < 0.012 || Math.abs(y * 10 - Math.round(y * 10)) < 0.012)) shade *= 0.9;
        } else shade = AMBIENT + (1 - AMBIENT) * Math.max(0, best[0] * LIGHT[0] + best[1] * LIGHT[1] + best[2] * LIGHT[2]);
      } else if (tBest < Infinity) {
        shade = AMBIENT + (1 - AMBIENT) * Math.max(0, best[0] * LIGHT[0] + best[1] * LIGHT[1] + best[2] * LIGHT[2]);
      } else shade = 1;
      if (owners) owners[py * width + px] = owner;
      const i = (py * width + px) * 3;
      rgb[i] = Math.min(255, Math.round(colour[0] * shade));
      rgb[i + 1] = Math.min(255, Math.round(colour[1] * shade));
      rgb[i + 2] = Math.min(255, Math.round(colour[2] * shade));
    }
  }
  return { width, height, rgb };
}

export function renderEncoded(world: World, size: number, format: 'jpeg' | 'png' = 'jpeg'): EncodedImage {
  const img = render(world, size, size);
  return format === 'jpeg' ? encodeJpeg(img, 92) : encodePng(img);
}
