#!/usr/bin/env python3
"""Reference warps for ember's data augmentation, for datasets/src/augment/tests.rs.

Writes datasets/tests/fixtures/augment/ (relative to the repository root):

* affine.json: a fixed 28x28 digit-like test image (u8, row-major), its np.rot90 (the
  counter-clockwise quarter turn), and affine warps of it (angle, translation, scale, x-shear)
  computed by scipy.ndimage.affine_transform(order=1) with the inverse matrix of torchvision's
  `torchvision.transforms.functional._get_inverse_affine_matrix` (written out below);
* elastic.json: the same image and elastic deformations (Simard, Steinkraus and Platt 2003,
  section 2) from stored raw U(-1, 1) fields: scipy.ndimage.gaussian_filter of each field,
  times alpha, then scipy.ndimage.map_coordinates(order=1) at (x + dx, y + dy).

Conventions (the ones ember and torchvision's tensor path follow):

* pixel centres at integer coordinates, the image centre at ((W-1)/2, (H-1)/2): torchvision's
  `_gen_affine_grid` puts the output pixel centres at -W/2 + 0.5 .. W/2 - 0.5 around the centre
  and samples with grid_sample(align_corners=False), which is exactly this;
* outside the image every corner of the bilinear stencil reads 0 (grid_sample's
  padding_mode="zeros"): that is scipy's mode="grid-constant", cval=0 (scipy's mode="constant"
  instead returns cval for any sample point outside [0, n-1], without interpolating the
  one-pixel rim);
* the Gaussian of the elastic fields is imageproc's `filter::gaussian_blur_f32`: kernel radius
  ceil(2 sigma), normalized, edges clamped. So scipy runs with mode="nearest" and
  truncate = ceil(2 sigma) / sigma (scipy's radius is int(truncate * sigma + 0.5)).

Everything is computed in float64 from the stored float32 inputs; the Rust side computes in
float32. Numbers are the shortest decimals that read back to the same float32. Running the
script twice gives identical files (fixed numpy seed).

Usage (from the repository root):

    python3 -m venv /tmp/augvenv && /tmp/augvenv/bin/pip install numpy==2.4.6 scipy==1.17.1
    /tmp/augvenv/bin/python tools/reference/augment_reference.py [--out DIR]
"""

import argparse
import json
import math
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy import ndimage

SIDE = 28


def f32(x):
    """A float32 value as the shortest decimal that reads back to the same float32."""
    return float(str(np.float32(x)))


def test_image(side=SIDE):
    """A digit-like 28x28 u8 image: a '4'-ish set of anti-aliased strokes plus a dot, with no
    symmetry (so a wrong rotation direction, flip or transpose shows), and stroke ends near
    the border (so the zero fill is exercised)."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)

    def segment(x0, y0, x1, y1, width):
        # Distance from each pixel centre to the segment, turned into a soft stroke.
        px, py = xx - x0, yy - y0
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        t = np.clip((px * dx + py * dy) / length2, 0.0, 1.0) if length2 > 0 else 0.0
        d = np.hypot(px - t * dx, py - t * dy)
        return np.clip(width - d, 0.0, 1.0)

    img = np.zeros((side, side))
    img = np.maximum(img, segment(7.0, 3.0, 4.5, 17.0, 1.6))  # left slanted stroke
    img = np.maximum(img, segment(4.5, 17.0, 24.0, 16.0, 1.4))  # cross bar
    img = np.maximum(img, segment(18.0, 2.0, 19.5, 26.5, 1.8))  # long right stroke
    img = np.maximum(img, 0.6 * segment(23.0, 24.0, 23.0, 24.0, 1.9))  # a dimmer dot
    img = np.maximum(img, 0.35 * segment(1.0, 26.0, 9.0, 26.0, 1.2))  # a faint base line
    return np.round(img * 255.0).astype(np.uint8)


def inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision.transforms.functional._get_inverse_affine_matrix (inverted=True), written
    out: the inverse of T * C * RotateScaleShear * C^-1, i.e. the map from output to input
    coordinates, with RotateScaleShear = R(angle) * S(scale) * SHy(shear_y) * SHx(shear_x).
    `angle` is clockwise (F.affine's convention; F.rotate passes -angle), degrees."""
    rot = math.radians(angle)
    sx = math.radians(shear[0])
    sy = math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [d, -b, 0.0, -c, a, 0.0]
    matrix = [x / scale for x in matrix]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def affine_reference(image, angle, translate, scale, shear):
    """F.affine(image, angle, translate, scale, [shear, 0]) with bilinear sampling and zero
    fill, by scipy.ndimage.affine_transform on float64 pixel values in [0, 1]."""
    side = image.shape[0]
    # torchvision's tensor path: the matrix is built about the centre (center_f = [0, 0]) in
    # coordinates relative to the image centre; pixel index = relative + (side - 1) / 2.
    m = inverse_affine_matrix([0.0, 0.0], angle, translate, scale, [shear, 0.0])
    c = (side - 1) / 2.0
    # x_in = m0 (x - c) + m1 (y - c) + m2 + c, y_in = m3 (x - c) + m4 (y - c) + m5 + c;
    # scipy works in (row, col) = (y, x) order.
    matrix = np.array([[m[4], m[3]], [m[1], m[0]]])
    offset = np.array([m[5] + c - m[3] * c - m[4] * c, m[2] + c - m[0] * c - m[1] * c])
    src = image.astype(np.float64) / 255.0
    return ndimage.affine_transform(
        src, matrix, offset=offset, order=1, mode="grid-constant", cval=0.0, prefilter=False
    )


def elastic_reference(image, field_x, field_y, alpha, sigma):
    """Simard et al. 2003: smooth each U(-1, 1) field by a Gaussian of standard deviation
    sigma (imageproc's kernel: radius ceil(2 sigma), clamped edges), scale by alpha (pixels),
    resample bilinearly at (x + dx, y + dy) with zero fill."""
    radius = math.ceil(2.0 * sigma)
    truncate = radius / sigma
    fx = field_x.astype(np.float64)
    fy = field_y.astype(np.float64)
    dx = ndimage.gaussian_filter(fx, sigma, mode="nearest", truncate=truncate) * alpha
    dy = ndimage.gaussian_filter(fy, sigma, mode="nearest", truncate=truncate) * alpha
    side = image.shape[0]
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    src = image.astype(np.float64) / 255.0
    return ndimage.map_coordinates(
        src, [yy + dy, xx + dx], order=1, mode="grid-constant", cval=0.0, prefilter=False
    )


AFFINE_CASES = [
    # name, angle (clockwise, F.affine), (tx, ty) pixels, scale, x-shear (degrees)
    ("identity", 0.0, (0.0, 0.0), 1.0, 0.0),
    ("rotate_ccw_23", -23.0, (0.0, 0.0), 1.0, 0.0),
    ("rotate_cw_41", 41.0, (0.0, 0.0), 1.0, 0.0),
    ("translate", 0.0, (3.0, -2.0), 1.0, 0.0),
    ("scale_down", 0.0, (0.0, 0.0), 0.83, 0.0),
    ("scale_up", 0.0, (0.0, 0.0), 1.27, 0.0),
    ("shear", 0.0, (0.0, 0.0), 1.0, 17.5),
    ("seed_like", 12.5, (-2.0, 3.0), 1.07, 0.0),
    ("everything", -17.3, (2.0, 1.0), 0.91, -9.4),
]

ELASTIC_CASES = [
    # name, alpha (pixels), sigma (pixels), numpy seed of the raw fields
    ("simard_34_4", 34.0, 4.0, 11),
    ("strong_8_1_3", 8.0, 1.3, 12),
]


def floats(a):
    return [f32(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="datasets/tests/fixtures/augment")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    image = test_image()
    reference = f"numpy {version('numpy')}, scipy {version('scipy')}"
    ints = [int(v) for v in image.ravel()]

    affine = {
        "reference": reference
        + ": scipy.ndimage.affine_transform(order=1, mode='grid-constant', cval=0) with "
        "torchvision's _get_inverse_affine_matrix about the centre ((W-1)/2, (H-1)/2)",
        "side": SIDE,
        "image": ints,
        "rot90": [int(v) for v in np.rot90(image).ravel()],
        "cases": [
            {
                "name": name,
                "angle": angle,
                "translate": list(t),
                "scale": scale,
                "shear": shear,
                "expected": floats(affine_reference(image, angle, t, scale, shear)),
            }
            for name, angle, t, scale, shear in AFFINE_CASES
        ],
    }

    cases = []
    for name, alpha, sigma, seed in ELASTIC_CASES:
        rng = np.random.default_rng(seed)
        field_x = rng.uniform(-1.0, 1.0, (SIDE, SIDE)).astype(np.float32)
        field_y = rng.uniform(-1.0, 1.0, (SIDE, SIDE)).astype(np.float32)
        expected = elastic_reference(image, field_x, field_y, alpha, sigma)
        cases.append(
            {
                "name": name,
                "alpha": alpha,
                "sigma": sigma,
                "field_x": floats(field_x),
                "field_y": floats(field_y),
                "expected": floats(expected),
            }
        )
    elastic = {
        "reference": reference
        + ": scipy.ndimage.gaussian_filter(mode='nearest', truncate=ceil(2 sigma)/sigma) then "
        "map_coordinates(order=1, mode='grid-constant', cval=0)",
        "side": SIDE,
        "image": ints,
        "cases": cases,
    }

    for name, doc in (("affine.json", affine), ("elastic.json", elastic)):
        (out / name).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
