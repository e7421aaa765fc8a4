"""The dataset as tensors: loaded and checked once (`backproplab.data`), normalised once, kept
whole on the training device; batches are taken by index (no DataLoader, no per-sample work)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from backproplab import data as idx
from backproplab.cnn.config import DataConfig
from backproplab.errors import BackproplabError


@dataclass
class Tensors:
    """Normalised images (N, 1, 28, 28) float32 and labels (N,) int64 per split, on one device."""

    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor] | None
    source: idx.DataSource

    def to(self, device) -> Tensors:
        def move(pair):
            return None if pair is None else (pair[0].to(device), pair[1].to(device))

        return Tensors(move(self.train), move(self.test), move(self.val), self.source)

    def check_examples(self, splits=("train", "test", "val")) -> Tensors:
        """Refuse a split of `splits` that holds no example (an IDX file of 0 images): a run
        would train on nothing or report an accuracy of 0% measured on nothing."""
        for split in splits:
            pair = getattr(self, split)
            if pair is not None and len(pair[1]) == 0:
                raise BackproplabError(
                    f"the {split} split is empty: 0 {split} examples of "
                    f"{self.source.dataset} from {str(self.source.folder)!r}; a run needs at "
                    "least one (nothing was trained or written)")
        return self

    def identity(self) -> dict:
        """What a resumed run must be trained on again."""
        return {"dataset": self.source.dataset, "kind": self.source.kind,
                "train": len(self.train[1]), "test": len(self.test[1]),
                "val": 0 if self.val is None else len(self.val[1])}


def find_source(config: DataConfig, progress: bool = True) -> idx.DataSource:
    if config.dataset == "mnist-subset":
        return idx.bundled_source()
    return idx.locate(config.dataset, config.data_dir, download=config.download, progress=progress)


def load_tensors(config: DataConfig, device="cpu", source: idx.DataSource | None = None,
                 progress: bool = True) -> Tensors:
    """Read, check, normalise and move the dataset to `device` (see DataConfig for the limits)."""
    source = source or find_source(config, progress)
    info = idx.IMAGE_DATASETS[source.dataset]
    splits = {}
    for split, limit in (("train", config.train_limit), ("test", config.test_limit)):
        images, labels = idx.load(source, split)
        if limit:
            images, labels = images[:limit], labels[:limit]
        x = torch.from_numpy(images.copy()).to(torch.float32).div_(255).unsqueeze(1)
        x = x.sub_(info.mean).div_(info.std)  # the training set's mean and std, as published
        splits[split] = (x, torch.from_numpy(labels.astype("int64")))
    val = None
    if config.val_size:
        x, y = splits["train"]
        if config.val_size >= len(y):
            raise BackproplabError(f"--val-size {config.val_size} leaves no training data "
                                   f"({len(y)} training examples)")
        splits["train"] = (x[:-config.val_size], y[:-config.val_size])
        val = (x[-config.val_size:], y[-config.val_size:])
    return Tensors(splits["train"], splits["test"], val, source).to(device)
