/** The lab's tasks by name. */
import { addingTask } from "./adding.js";
import { copyTask } from "./copy.js";
import { reberTask } from "./reber.js";
import type { Task, TaskName } from "./task.js";
import { temporalOrderTask } from "./temporal-order.js";

export * from "./task.js";
export { addingTask } from "./adding.js";
export { copyTask, COPY_SYMBOLS } from "./copy.js";
export { reberTask, embeddedReberString, REBER_SYMBOLS } from "./reber.js";
export { temporalOrderTask } from "./temporal-order.js";

/** Every task, by name. */
export const TASKS: Readonly<Record<TaskName, Task>> = {
  adding: addingTask,
  copy: copyTask,
  reber: reberTask,
  "temporal-order": temporalOrderTask,
};

/** Names of the tasks, as the CLI accepts them. */
export const TASK_NAMES = Object.keys(TASKS) as TaskName[];

/** The task called `name`; throws with the list of names on an unknown one. */
export function getTask(name: string): Task {
  if (!Object.hasOwn(TASKS, name)) throw new Error(`unknown task "${name}"; choose one of: ${TASK_NAMES.join(", ")}`);
  return TASKS[name as TaskName];
}
