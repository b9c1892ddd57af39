// The task families of the tabletop (pick up X, put X in/on Y, pick-place-lift, move X next to Y): the
// names that tasks, instructions in every language and the evaluation suites share.
export type TaskFamily = 'pick' | 'pick-place' | 'pick-place-lift' | 'move-next-to';
export const TASK_FAMILIES: readonly TaskFamily[] = ['pick', 'pick-place', 'pick-place-lift', 'move-next-to'];
