"""CIFAR-10/100 in the layouts people download (python and binary batches, a folder of images),
read as proxy data and for full training, and their errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nas.data import DataSource, load_proxy_data
from nas.data.kinds import cifar as C
from nas.space import ConfigError
from nas.train.imagenet import load_image_data
from nas.train.proxy_config import PROXY_PRESETS, ProxyConfig
from nas.train.recipe import Recipe

PER_CLASS = {"train": 6, "val": 3}


def images(labels: np.ndarray, split: str) -> np.ndarray:
    """(N, 3, 32, 32): red = 20 * label, green = 0 (train) or 255 (val), blue = row index."""
    x = np.zeros((len(labels), 3, 32, 32), dtype=np.uint8)
    x[:, 0] = (20 * labels)[:, None, None]
    x[:, 1] = 0 if split == "train" else 255
    x[:, 2] = (np.arange(len(labels)) % 256)[:, None, None]
    return x


def split_labels(kind: str, split: str) -> np.ndarray:
    classes = 10 if kind == "cifar10" else 100
    return np.repeat(np.arange(classes), PER_CLASS[split])[::-1].copy()


def make_cifar(root: Path, *, kind: str = "cifar10", layout: str = "python") -> Path:
    """A tiny CIFAR in the archive's own folder (one level below `root`), batches split as
    the archive splits them (5 training batches for CIFAR-10, 1 for CIFAR-100)."""
    spec = next(x for x in C.LAYOUTS[kind] if x.binary == (layout == "binary"))
    folder = root / spec.name
    folder.mkdir(parents=True)
    for split in ("train", "val"):
        y = split_labels(kind, split)
        x = images(y, split)
        files = getattr(spec, split)
        for f, xs, ys in zip(files, np.array_split(x, len(files)), np.array_split(y, len(files))):
            if layout == "binary":
                head = [ys[:, None]] if kind == "cifar10" else [ys[:, None] // 10, ys[:, None]]
                rows = np.concatenate([*head, xs.reshape(len(xs), -1)], 1).astype(np.uint8)
                rows.tofile(folder / f)
            else:
                key = "labels" if kind == "cifar10" else "fine_labels"
                batch = {b"data": xs.reshape(len(xs), -1), key.encode(): ys.tolist()}
                (folder / f).write_bytes(pickle.dumps(batch, protocol=2))
    names = [f"c{i}" for i in range(10 if kind == "cifar10" else 100)]
    if layout == "binary":
        (folder / spec.names_file).write_text("\n".join(names) + "\n")
    else:
        key = "label_names" if kind == "cifar10" else "fine_label_names"
        (folder / spec.names_file).write_bytes(pickle.dumps({key: names}))
    return root


def make_image_folder(root: Path) -> Path:
    for split in ("train", "val"):
        y = split_labels("cifar10", split)
        for k, (img, label) in enumerate(zip(images(y, split), y)):
            d = root / split / f"c{label}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.transpose(1, 2, 0)).save(d / f"{k:04d}.png")
    return root


@pytest.mark.parametrize(
    "kind,layout",
    [("cifar10", "python"), ("cifar10", "binary"), ("cifar100", "python"), ("cifar100", "binary")],
)
def test_every_batch_layout_gives_the_images_and_labels_it_stores(tmp_path, kind, layout):
    root = make_cifar(tmp_path / "d", kind=kind, layout=layout)
    classes = 10 if kind == "cifar10" else 100
    data = load_proxy_data(f"{kind}:{root}", train_images=2 * classes, val_images=classes)
    assert data.num_classes == classes
    assert data.train_x.shape == (2 * classes, 3, 32, 32)
    # the label is written into the red channel: images and labels stay paired
    assert torch.equal(data.train_x[:, 0, 0, 0].long(), 20 * data.train_y % 256)
    assert torch.equal(data.val_x[:, 0, 0, 0].long(), 20 * data.val_y % 256)
    assert torch.equal(data.train_y.bincount(minlength=classes), torch.full((classes,), 2))


def test_val_split_val_judges_on_the_data_s_own_test_images(tmp_path):
    root = make_cifar(tmp_path / "d")
    held_out = load_proxy_data(f"cifar10:{root}", train_images=20, val_images=30)
    own = load_proxy_data(f"cifar10:{root}", train_images=20, val_images=30, val_split="val")
    assert (held_out.val_x[:, 1] == 0).all()  # green 0: training images
    assert (own.val_x[:, 1] == 255).all()  # green 255: the test batch
    assert torch.equal(own.val_y.bincount(), torch.full((10,), 3))
    assert torch.equal(held_out.train_x, own.train_x)  # the training draw is the same


def test_a_folder_of_cifar_images_stays_at_32px_and_matches_the_batches(tmp_path):
    folder = make_image_folder(tmp_path / "f")
    data = load_proxy_data(f"cifar10:{folder}", train_images=20, val_images=10, folder_size=64)
    assert data.train_x.shape[-1] == 32  # native size, whatever the proxy's folder size
    assert torch.equal(data.train_x[:, 0, 0, 0].long(), 20 * data.train_y % 256)


def test_full_training_reads_both_splits_with_names(tmp_path):
    root = make_cifar(tmp_path / "d", layout="binary")
    data = load_image_data(DataSource.parse(f"cifar10:{root}"), resolution=32, recipe=Recipe())
    assert (len(data.train), len(data.val)) == (60, 30)
    assert data.classes == [f"c{i}" for i in range(10)]
    image, label = data.val[0]
    assert image.shape == (3, 32, 32) and 0 <= label < 10


def test_a_truncated_binary_batch_is_one_line_naming_the_file(tmp_path):
    root = make_cifar(tmp_path / "d", layout="binary")
    batch = root / "cifar-10-batches-bin" / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-100])
    with pytest.raises(ConfigError) as e:
        load_proxy_data(f"cifar10:{root}", train_images=20, val_images=10)
    assert str(batch) in str(e.value) and "3073 bytes" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_python_batch_of_the_wrong_row_width_is_one_line_naming_file_and_field(tmp_path):
    root = make_cifar(tmp_path / "d")
    batch = root / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({b"data": np.zeros((30, 100), np.uint8), b"labels": [0] * 30}))
    with pytest.raises(ConfigError) as e:
        load_proxy_data(f"cifar10:{root}", train_images=20, val_images=10, val_split="val")
    assert str(e.value).startswith(f"{batch}: data: expected (N, 3072) uint8 rows")


def test_a_pickled_batch_that_would_run_code_is_refused(tmp_path):
    root = make_cifar(tmp_path / "d")
    batch = root / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({"data": Path("x")}))
    with pytest.raises(ConfigError, match="refusing to load pathlib"):
        load_proxy_data(f"cifar10:{root}", train_images=20, val_images=10)


def test_a_proxy_of_cifar_names_the_upsampling_in_its_description(tmp_path):
    from nas.evaluate import Fidelity

    root = make_cifar(tmp_path / "d")
    cfg: ProxyConfig = PROXY_PRESETS["reference-cifar"]
    described = Fidelity(cfg, f"cifar10:{root}").describe()
    assert "32px images upsampled to 64px" in described


def test_the_cpu_cifar_preset_is_the_calibrated_ladder_rung(tmp_path):
    """The frozen preset and the rung the CIFAR-10 calibration measured are one fidelity, so
    the published figures (and any run of either) are the preset's; editing one alone breaks
    this."""
    from nas.evaluate import Fidelity
    from nas.train.proxy_config import load_proxy

    rung = Path(__file__).parents[2] / "scripts/proxy_ladder_cifar10/64px-half-8k-tricks.yaml"
    data = f"cifar10:{make_cifar(tmp_path / 'd')}"
    preset = Fidelity(PROXY_PRESETS["cpu-cifar"], data)
    assert preset.fidelity_id == Fidelity(load_proxy(rung), data).fidelity_id
    assert preset.fidelity_id != Fidelity(PROXY_PRESETS["cpu"], data).fidelity_id
