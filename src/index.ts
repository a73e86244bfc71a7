/**
 * unroll: recurrent neural networks (RNN, LSTM, GRU) with exact backpropagation through time.
 * The public API; this module only re-exports. Everything here runs in browsers and Node.js alike;
 * Node-only helpers (files, CLI) are in `unroll/node`.
 */
export type { DType, FloatArray } from "./tensor/dtype.js";
export { allocate, fromValues } from "./tensor/dtype.js";
export { Rng } from "./tensor/random.js";
export { createArena, mirrorArena, view, assign, type Arena, type TensorSpec } from "./tensor/arena.js";
export { Workspace, type Allocator } from "./tensor/workspace.js";

export type { Backend } from "./backend/backend.js";
export { getBackend, registerBackend, backendNames } from "./backend/select.js";
export { jsBackend, referenceBackend } from "./backend/js/index.js";

export {
  parseCell,
  cellName,
  CELL_NAMES,
  createCell,
  type Cell,
  type CellConfig,
  type CellParams,
  type Gate,
  type Nonlinearity,
} from "./cells/index.js";

export { checkTokenIds, embeddingForward, embeddingBackward, oneHot } from "./layers/embedding.js";
export { linearForward, linearBackward } from "./layers/linear.js";
export { softmaxCrossEntropy, softmaxRows } from "./layers/softmax-cross-entropy.js";

export { unrollForward, unrollBackward, type UnrollCache } from "./sequence/unroll.js";
export {
  recurrentSpecs,
  bindRecurrent,
  recurrentForward,
  recurrentBackward,
  transposeTB,
  type RecurrentConfig,
  type Recurrent,
  type RecurrentPass,
} from "./sequence/recurrent.js";

export { tensor, checkTensor, type Tensor } from "./api/tensor.js";
export {
  recurrentLayer,
  loadLayerWeights,
  forward,
  backward,
  type RecurrentLayer,
  type RecurrentLayerOptions,
  type LayerOutput,
} from "./api/recurrent-layer.js";

export {
  createLanguageModel,
  languageModelSpecs,
  languageModelForward,
  languageModelLoss,
  languageModelBackward,
  createGradients,
  type LanguageModel,
  type LanguageModelConfig,
  type RecurrentState,
} from "./model/language-model.js";

export { loadStateDict, inferRecurrentConfig, recurrentFromStateDict, type StateDict, type NamedTensor } from "./api/state-dict.js";
export { parseReference, runReference, TOLERANCE, type ReferenceCase, type ConformanceReport } from "./conformance/reference.js";

export { buildCharVocabulary, encode, decode, codePoints, type Vocabulary } from "./text/vocab.js";
export { makeBatches, type Batches, type Chunk } from "./text/batches.js";

export * from "./train/optimizers.js";
export * from "./train/clip.js";
export * from "./train/schedules.js";
export * as init from "./train/init.js";
export { initLanguageModel, type InitOptions } from "./train/init-model.js";
export { trainStep, createStepContext, DivergedError, type StepContext, type StepResult } from "./train/step.js";
export { evaluateChunks } from "./model/evaluate.js";
export { sampleTokens, pickToken, argmaxOf, type SampleOptions } from "./generate/sample.js";
export { train, createTraining, DEFAULTS as TRAIN_DEFAULTS, type TrainOptions, type TrainEvent, type Training, type ResolvedTrainOptions } from "./train/train.js";
export { sample, sampleStream, evaluate, evaluateSplit, type TextSampleOptions, type Evaluation } from "./generate/text.js";
export {
  quantizeLanguageModel,
  dequantizeLanguageModel,
  unquantizableReason,
  fastInt8On,
  autoWeightFormat,
  type WeightFormat,
  type QuantizedFormat,
  type QuantizedLanguageModel,
} from "./generate/quantized.js";
export { modelFromCheckpoint, type TrainedModel } from "./model/trained.js";
export { CHECKPOINT_VERSION, type Checkpoint, type TrainingSnapshot, type TrainingProgress } from "./model/checkpoint.js";
export { encodeCheckpoint, decodeCheckpoint } from "./model/checkpoint-codec.js";
export { buildVocabulary, encodeText, tokenText, type VocabularyOptions } from "./text/vocab.js";
export { lineChartSvg } from "./plot/chart.js";
export { lossCurveSvg, readMetricsLines } from "./plot/loss-curve.js";
export { exportOnnx, exportRecurrentOnnx, describeOnnx, ONNX_OPSETS, type OnnxExportOptions } from "./io/onnx.js";
export {
  parseTfjsModel,
  runKerasModel,
  readTfjsManifest,
  kerasToRecurrentLayers,
  SUPPORTED_LAYERS as KERAS_SUPPORTED_LAYERS,
  type KerasModel,
  type KerasLayer,
  type KerasParseOptions,
  type KerasRecurrentLayer,
} from "./io/keras.js";
export {
  readSafetensors,
  writeSafetensors,
  SAFETENSORS_MAX_HEADER,
  type Safetensors,
  type SafetensorsTensor,
  type SafetensorsDType,
  type SafetensorsData,
  type WritableTensor,
} from "./io/safetensors.js";
export {
  exportLanguageModel,
  importLanguageModel,
  exportRecurrentLayer,
  importRecurrentLayer,
  exportEmbedding,
  importEmbedding,
  exportLinear,
  importLinear,
  pytorchModule,
  PYTORCH_CELLS,
  type PyTorchCellName,
  type LanguageModelImportOptions,
  type ModuleImportOptions,
  type LayerImportOptions,
} from "./io/pytorch.js";
export * as lab from "./lab/index.js";
export {
  wasmBackend,
  initWasmBackend,
  wasmUsable,
  wasmThreads,
  wasmInfo,
  type WasmInfo,
  enableWasmThreads,
  type WasmWorkerJob,
  type WasmWorkerHost,
} from "./backend/wasm/index.js";
export type { FusedRecurrence, FusedForward, FusedBackward, OptimizerKernels, AdamScalars, SgdScalars } from "./backend/backend.js";

// Sequence tasks: every shape of RNN (docs/tasks.md).
export * from "./layers/attention.js";
export * from "./layers/pooling.js";
export * from "./layers/weighted-cross-entropy.js";
export * from "./tasks/classifier.js";
export * from "./tasks/tagger.js";
export * from "./tasks/conditional.js";
export * from "./tasks/seq2seq.js";
export * from "./tasks/seq2seq-task.js";
export * from "./tasks/trainer.js";
export * from "./tasks/task-checkpoint.js";
export * from "./tasks/metrics.js";
export * from "./tasks/split.js";
export * from "./tasks/tokens.js";
export * from "./tasks/labelled.js";
export type { TaggedExample } from "./tasks/tagged.js";
export { parseCmudict, type Pronunciation } from "./tasks/cmudict.js";
export { stressTagging, ARPABET_VOWELS, STRESS_TAGS } from "./tasks/stress.js";
export { attentionHeatmapSvg, confusionMatrixSvg } from "./plot/heatmap.js";
export { VERSION } from "./version.js";

// Looking inside a language model: states and gates per step, unit–pattern correlations, unrolled BPTT (src/inspect).
export {
  traceText,
  traceQuantities,
  traceValues,
  traceUnit,
  tracePredictions,
  patternOf,
  PATTERN_KINDS,
  unitCorrelations,
  unrolledSteps,
  type TextTrace,
  type TraceQuantity,
  type TraceOptions,
  type LayerTrace,
  type TokenPrediction,
  type PatternKind,
  type UnitCorrelation,
  type CorrelationOptions,
  type UnrolledRun,
  type UnrolledStep,
  type UnrolledLayer,
  type UnrolledGradients,
} from "./inspect/index.js";
