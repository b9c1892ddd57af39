// `vlm2vla act`: one observation in (a camera frame and an instruction), the policy's decision out —
// the subtasks, the motion plan, the action chunk as generated and the executable steps after the
// safety envelope, with the time of every stage. For trying a model by hand.
import { readFileSync, statSync } from 'node:fs';
import { defineCommand } from '../define.ts';
import { UsageError } from '../../errors/index.ts';
import { decodeImage, probeImage } from '../../data/image.ts';
import { createPolicy } from '../../policy/create.ts';
import { GRIPPER_START } from '../../sim/index.ts';
import { POLICY_FLAGS, policySpecFrom } from './eval-sim.ts';

const { policy: _policy, ...MODEL_POLICY_FLAGS } = POLICY_FLAGS;

export const actCommand = defineCommand({
  name: 'act',
  summary: "one frame and an instruction in, the policy's subtasks, plan, chunk and steps out",
  description:
    'Runs the first cycle of the hierarchical policy on one observation: stage 1 (subtasks), stage 2\n' +
    '(motion plan) and stage 3 (action chunk), each decoded under its grammar; prints the text of each\n' +
    'stage, the steps the safety envelope makes of the chunk (metres, radians, gripper 1 = open) and the\n' +
    "time per stage. --state is the end effector in metres (default: the simulator's start pose).",
  flags: {
    ...MODEL_POLICY_FLAGS,
    image: {
      type: 'string',
      required: true,
      meta: 'frame.png',
      help: 'camera frame (PNG or JPEG), over the shoulder as in the training data',
    },
    task: { type: 'string', required: true, meta: '"put the apple in the bowl"', help: 'the instruction' },
    state: {
      type: 'string',
      meta: 'x,y,z,roll,pitch,yaw,gripper',
      help: 'end-effector state (m, rad, 1 = open)',
      defaultHelp: "the simulator's start pose",
    },
    json: { type: 'boolean', help: 'print the result as one JSON object' },
  },
  async run(f) {
    const imagePath = f.image;
    const task = f.task.trim();
    if (!task) throw new UsageError('--task is required', 'e.g. --task "pick up the carrot"');
    if (!statSync(imagePath, { throwIfNoEntry: false })?.isFile())
      throw new UsageError(`${imagePath} is not a file`, 'pass a PNG or JPEG frame');
    const image = decodeImage(probeImage(new Uint8Array(readFileSync(imagePath)), imagePath), imagePath);
    let state = Float32Array.of(GRIPPER_START.x, GRIPPER_START.y, GRIPPER_START.z, 0, 0, 0, 1);
    if (f.state !== undefined) {
      const parts = f.state.split(',');
      if (parts.length !== 7 || !parts.every((p) => /^-?\d+(\.\d+)?$/.test(p.trim())))
        throw new UsageError(
          `--state needs 7 comma-separated decimal numbers, got "${f.state}"`,
          'x,y,z,roll,pitch,yaw,gripper, e.g. 0.3,0,0.25,0,0,0,1',
        );
      state = Float32Array.from(parts.map((p) => Number(p)));
    }
    const policy = await createPolicy({ ...policySpecFrom({ ...f, policy: 'model' }) });
    const result = await policy.infer({ image, state, instruction: task });
    const steps = result.actions.map((a) => [...a].map((v) => Number(v.toFixed(5))));
    if (f.json) {
      console.log(
        JSON.stringify({
          text: result.text ?? {},
          steps,
          malformed: result.malformed ?? 0,
          failed: result.failed ?? null,
          timing: result.timing,
        }),
      );
      return 0;
    }
    const t = result.text ?? {};
    const stage = (name: string) => (result.timing.stages[name] !== undefined ? ` (${result.timing.stages[name]!.toFixed(0)} ms)` : '');
    if (t.subtasks) console.log(`subtasks${stage('subtasks')}: ${JSON.stringify(t.subtasks)}`);
    if (t.subtask) console.log(`subtask: ${t.subtask}`);
    if (t.plan !== undefined) console.log(`plan${stage('plan')}: ${t.plan}`);
    if (t.chunk !== undefined) console.log(`chunk${stage('chunk') || stage('act')}: ${t.chunk}`);
    if (result.failed) console.log(`no action: ${result.failed}`);
    console.log(`steps (dx, dy, dz m; droll, dpitch, dyaw rad; gripper): ${steps.length}`);
    for (const s of steps) console.log(`  [${s.join(', ')}]`);
    console.log(`malformed answers regenerated: ${result.malformed ?? 0}; total ${result.timing.totalMs.toFixed(0)} ms`);
    return 0;
  },
});
