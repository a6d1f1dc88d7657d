"""Image decoding and pixel-format conversion (kit.embed.images)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from kit.embed.images import image_list_hash, open_image, to_rgb
from kit.errors import DataError


def _rgb(img: Image.Image) -> np.ndarray:
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == img.size
    return np.asarray(out)


def test_grayscale_and_bilevel_become_gray_rgb():
    a = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = _rgb(Image.fromarray(a, "L"))
    assert (rgb == a[..., None]).all()
    bits = _rgb(Image.fromarray(a > 127).convert("1"))
    assert set(np.unique(bits).tolist()) == {0, 255}


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint16, st.tuples(st.integers(1, 6), st.integers(1, 6))))
def test_16bit_gray_is_rescaled_not_clipped(a):
    # A 16-bit PNG round trip, compared with the literal per-pixel rule round(v / 257).
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    buf.seek(0)
    with Image.open(buf) as img:
        img.load()
        assert img.mode.startswith("I")
        rgb = _rgb(img)
    expected = np.array([[int(round(v / 257)) for v in row] for row in a.tolist()], dtype=np.uint8)
    assert (rgb == expected[..., None]).all()


def test_rgba_and_transparent_palette_composite_on_white():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red ...
    rgba[:2, :, 3] = 0  # ... transparent in the top half, opaque below
    rgba[2:, :, 3] = 255
    out = _rgb(Image.fromarray(rgba, "RGBA"))
    assert (out[:2] == 255).all()
    assert (out[2:] == [255, 0, 0]).all()
    half = rgba.copy()
    half[..., 3] = 128  # half-transparent black over white → mid grey
    half[..., 0] = 0
    assert np.abs(_rgb(Image.fromarray(half, "RGBA")).astype(int) - 127).max() <= 1
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.info["transparency"] = 0
    assert _rgb(pal).tolist() == [[[255, 255, 255], [0, 255, 0]]]


def test_cmyk_jpeg_file_decodes_to_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("RGB", (8, 8), (200, 30, 30)).convert("CMYK").save(path, quality=95)
    out = np.asarray(open_image(path)).astype(int)
    assert open_image(path).mode == "RGB"
    assert np.abs(out - [200, 30, 30]).max() < 30


def test_unreadable_truncated_and_missing_files_name_the_file(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.jpg").write_text("not an image")
    for name in ("truncated.png", "text.jpg", "missing.png"):
        with pytest.raises(DataError, match=name):
            open_image(tmp_path / name)
    assert np.asarray(open_image(good))[0, 0].tolist() == [1, 2, 3]


def test_image_list_hash_follows_content_and_order_not_names(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (4, 4), (9, 9, 9)).save(a)
    Image.new("RGB", (4, 4), (8, 8, 8)).save(b)
    moved = tmp_path / "sub"
    moved.mkdir()
    (moved / "x.png").write_bytes(a.read_bytes())
    (moved / "y.png").write_bytes(b.read_bytes())
    assert image_list_hash([a, b]) == image_list_hash([moved / "x.png", moved / "y.png"])
    assert image_list_hash([a, b]) != image_list_hash([b, a])
    pil = Image.new("RGB", (4, 4), (9, 9, 9))
    assert image_list_hash([pil]) != image_list_hash([Image.new("RGB", (4, 4), (9, 9, 10))])
    with pytest.raises(DataError, match="nope.png"):
        image_list_hash([tmp_path / "nope.png"])


def test_image_list_hash_reads_a_file_again_only_when_it_changed(tmp_path, monkeypatch):
    import os

    from kit import io

    a = tmp_path / "a.png"
    Image.new("RGB", (4, 4), (9, 9, 9)).save(a)
    opened = []
    real_open = open
    monkeypatch.setattr(io, "open", lambda *args, **kw: opened.append(args[0]) or real_open(*args, **kw),
                        raising=False)  # kit.io.file_sha256 reads the file
    first = image_list_hash([a, a])
    assert image_list_hash([a]) != first and len(opened) == 1  # read once, remembered
    Image.new("RGB", (4, 4), (1, 2, 3)).save(a)
    st = os.stat(a)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new modification time
    assert image_list_hash([a, a]) != first and len(opened) == 2
