/** @vae/train: MNIST loading and VAE training with TensorFlow.js. */
export { selectBackend, BACKEND_CHOICES, type BackendChoice, type BackendInfo } from './backend.js';
export { installWasmTrainingKernels } from './speed/wasm-kernels.js';
export { loadDataset, resolveDataDir, DATASETS, type Dataset, type DatasetName } from './data/datasets.js';
export { readIdxFile, parseIdx, DataError, type IdxArray } from './data/idx.js';
export {
  createVae, encode, decode, decodeLogits, namedLayers, variables, disposeVae, PAPER_MODEL,
  type VaeConfig, type VaeModel, type Dense,
} from './model.js';
export { vaeLoss, bceWithLogitsPerImage, klPerImage, type LossTerms } from './loss.js';
export { Adam } from './adam.js';
export { PAPER_DEFAULTS, DEFAULT_THREADS, type RunConfig } from './config.js';
export { train, testNoise, CHECKPOINT_FILE, type TrainOptions, type TrainResult, type EpochRecord, type StepProgress, type LossMeans } from './train.js';
export { loadCheckpoint, saveCheckpoint, type Checkpoint, type Progress } from './checkpoint.js';
export { evaluateRun, loadTrainedModel, formatTable1, type Evaluation, type TrainedRun } from './evaluate.js';
export { importanceWeightedNll, type IwaeOptions, type IwaeResult } from './iwae.js';
export { standardNormal, deriveSeed } from './random.js';
