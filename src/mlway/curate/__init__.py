"""``mlway.curate``: from recorded shifts to a calibrated per-frame classifier packaged as a model bundle.

    from mlway.curate import TrainConfig, train
    bundle, report = train([Path("data/shifts/train")], Path("models/harvest-cam"), TrainConfig(epochs=8))
    report.temperature, report.ece_before, report.ece_after, report.variants["int8"]["val_accuracy"]

Classes (output order): ``CLASSES`` = idle, harvesting, unloading, unloading_failure; simulator
labels map to them through ``LABEL_MAP``. Held-out machines (unseen camera poses) validate.
The bundled default model: ``mlway.assets.bundled_model_path("harvest-cam")``.

Install with ``pip install 'mlway[curate]'`` (torch 2.13.0 CPU, onnx, onnxruntime, the simulator's
reader). Only ``train`` needs torch, and imports it when called.
"""

from mlway.curate.config import TrainConfig
from mlway.curate.dataset import CLASSES, LABEL_MAP, FrameSet, load_frames
from mlway.curate.train import TrainReport, train

__all__ = ["CLASSES", "LABEL_MAP", "FrameSet", "TrainConfig", "TrainReport", "load_frames", "train"]
