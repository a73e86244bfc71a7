/**
 * The long-term dependency lab: synthetic long-range tasks (adding, copy, embedded Reber grammar,
 * temporal order), a small sequence model to train on them, the gradient-norm measurement
 * ‖∂L_T/∂h_t‖ against the gap, and the charts and HTML report. Browser-safe; the CLI
 * (src/cli/lab.ts) writes files.
 */
export * from "./tasks/index.js";
export {
  createSequenceModel,
  sequenceModelSpecs,
  bindSequenceModel,
  initSequenceModel,
  sequenceForward,
  sequenceLoss,
  sequenceBackward,
  createSequenceGradients,
  convertSequenceModel,
  type SequenceModel,
  type SequenceModelConfig,
  type SequenceInitOptions,
  type SequencePass,
} from "./model.js";
export {
  trainOnTask,
  evaluateTask,
  createTaskModel,
  testSet,
  TASK_DEFAULTS,
  type TaskTrainOptions,
  type TaskRun,
  type TaskSummary,
  type TaskEvent,
  type CurvePoint,
  type StopReason,
} from "./train.js";
export {
  gradientNorms,
  recurrentWeightStats,
  fitRate,
  gateNames,
  type GradientNorms,
  type GradientNormOptions,
  type GateStats,
  type RecurrentWeightStats,
  type RnnRelation,
} from "./gradients.js";
export { largestSingularValue, spectralRadius, frobeniusNorm } from "./linalg.js";
export { gradientStudy, labGrid, tanhRelation, type GradientStudy, type GradientStudyOptions, type LabOptions, type LabResult, type LabRun, type RelationCase } from "./study.js";
export { learningCurveSvg, learningCurvesSvg, gradientNormsSvg, rnnRelationSvg, successVsTSvg, cellColor, cellLabel } from "./plots.js";
export { labReportHtml, labReportCharts, labFindings, type ReportChart, type ReportOptions } from "./report.js";
