/**
 * @vae/train: MNIST loading and VAE training with TensorFlow.js. The index exports what
 * export and pipeline use; the model's parts, the loss, Adam and the IDX reader are internal
 * (this package's tests import them from their modules).
 */
export { selectBackend, BACKEND_CHOICES, type BackendChoice, type BackendInfo } from './backend.js';
export { loadDataset, resolveDataDir, DATASETS, type Dataset, type DatasetName } from './data/datasets.js';
export {
  encode, decode, namedLayers, disposeVae, ARCHITECTURES,
  type VaeConfig, type VaeModel, type MlpVae, type MlpVaeConfig, type Architecture, type Dense,
} from './model.js';
export { type ConvVae, type ConvVaeConfig } from './conv-model.js';
export { PAPER_DEFAULTS, CONV_DEFAULTS, DEFAULT_THREADS, type RunConfig } from './config.js';
export { train, CHECKPOINT_FILE, type TrainOptions, type TrainResult, type EpochRecord, type StepProgress, type LossMeans } from './train.js';
export { loadCheckpoint, type Checkpoint, type Progress } from './checkpoint.js';
export { evaluateRun, loadTrainedModel, formatTable1, type Evaluation, type TrainedRun } from './evaluate.js';
export { importanceWeightedNll, type IwaeOptions, type IwaeResult, type LogitsDecoder } from './iwae.js';
export { standardNormal } from './random.js';
export { measureStepRate, type StepRateOptions, type StepRate } from './speed/step-rate.js';
