"""Base datasets from small folders in the official CUB-200-2011 and COCO 2017 layouts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kit.data import coco_instances, load_coco, load_cub
from kit.errors import ConfigError, DataError

ATTRS = [
    "has_bill_shape::cone",
    "has_bill_shape::dagger",
    "has_wing_color::blue",
    "has_wing_color::red",
    "has_size::small_(5_-_9_in)",
]


def _cub(tmp_path, n=10, seed=0):
    rng = np.random.default_rng(seed)
    root = tmp_path / "CUB_200_2011"
    (tmp_path / "attributes.txt").write_text("".join(f"{i + 1} {a}\n" for i, a in enumerate(ATTRS)))
    Y = rng.random((n, len(ATTRS))) < 0.4
    lines, img_lines, split_lines = [], [], []
    for i in range(n):
        rel = f"00{i % 3 + 1}.Bird_{i % 3}/img_{i}.jpg"
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i, 0, 0)).save(root / "images" / rel)
        img_lines.append(f"{i + 1} {rel}\n")
        split_lines.append(f"{i + 1} {int(i % 4 != 0)}\n")
        for a in range(len(ATTRS)):
            extra = " 0" if (i, a) == (3, 1) else ""  # the release has a few lines with an extra field
            lines.append(f"{i + 1} {a + 1} {int(Y[i, a])} 3 12.5{extra}\n")
    (root / "attributes").mkdir()
    (root / "attributes" / "image_attribute_labels.txt").write_text("".join(lines))
    (root / "images.txt").write_text("".join(img_lines))
    (root / "train_test_split.txt").write_text("".join(split_lines))
    return root, Y


def test_load_cub(tmp_path):
    root, Y = _cub(tmp_path)
    t = load_cub(root, val_fraction=0.25, seed=1)
    assert t.names == ATTRS and (t.Y == Y).all()
    assert list(t.ids) == list(range(1, 11))
    assert t.groups == ["has_bill_shape"] * 2 + ["has_wing_color"] * 2 + ["has_size"]
    test = np.arange(10) % 4 == 0
    assert (t.split[test] == "test").all() and (t.split[~test] != "test").all()
    assert (t.split == "val").sum() == round(0.25 * (~test).sum())
    assert (load_cub(root, val_fraction=0.25, seed=1).split == t.split).all()
    assert Image.open(t.images[4]).getpixel((0, 0)) == (4, 0, 0)


def test_load_cub_bad_input(tmp_path):
    root, _ = _cub(tmp_path)
    p = root / "attributes" / "image_attribute_labels.txt"
    good = p.read_text()
    p.write_text(good + "11 1 1 3 1.0\n")
    with pytest.raises(DataError, match="line 51: image id 11 is not in images.txt"):
        load_cub(root)
    p.write_text(good + "1 9 1 3 1.0\n")
    with pytest.raises(DataError, match="attribute id 9 is out of range"):
        load_cub(root)
    p.write_text(good)
    (root / "images" / "001.Bird_0" / "img_0.jpg").unlink()
    with pytest.raises(DataError, match="images.txt, line 1 \\(image id 1\\).*not found"):
        load_cub(root)
    with pytest.raises(ConfigError, match="val_fraction"):
        load_cub(root, val_fraction=1.0)
    with pytest.raises(DataError, match="images.txt: file not found"):
        load_cub(tmp_path)


def _coco(tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "val2017").mkdir()
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]
    images = [{"id": i, "file_name": f"{i:012d}.jpg"} for i in (7, 2, 5)]
    for im in images:
        Image.new("RGB", (8, 8)).save(root / "val2017" / im["file_name"])
    anns = [
        {"id": 1, "image_id": 2, "category_id": 3, "area": 10.0},
        {"id": 2, "image_id": 2, "category_id": 3, "area": 5.0},
        {"id": 3, "image_id": 2, "category_id": 18, "area": 40.0},
        {"id": 4, "image_id": 7, "category_id": 1, "area": 1.0},
    ]
    data = {"images": images, "annotations": anns, "categories": cats}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root, data


def test_load_coco(tmp_path):
    root, data = _coco(tmp_path)
    t = load_coco(root, "val")
    assert t.names == ["person", "car", "dog"] and list(t.ids) == [2, 5, 7]
    assert t.Y.tolist() == [[False, True, True], [False, False, False], [True, False, False]]
    assert t.images[0].endswith("val2017/000000000002.jpg") and (t.split == "val").all()
    _, counts, areas = coco_instances(root, "val")
    assert counts[0].tolist() == [0, 2, 1] and areas[0].tolist() == [0.0, 15.0, 40.0]


def test_load_coco_bad_input(tmp_path):
    root, data = _coco(tmp_path)
    with pytest.raises(ConfigError, match="split"):
        load_coco(root, "test")
    with pytest.raises(DataError, match="instances_train2017.json: annotation file not found"):
        load_coco(root, "train")
    data["annotations"].append({"id": 9, "image_id": 99, "category_id": 1, "area": 1.0})
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="annotation 9 refers to unknown image id 99"):
        load_coco(root, "val")
    (root / "annotations" / "instances_val2017.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_coco(root, "val")
