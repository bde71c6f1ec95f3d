#!/usr/bin/env bash
# GPU figures for BENCHMARKS.md in one run: ember on wgpu against PyTorch on CUDA, same machine,
# same sitting.
#
#   benches/gpu/run.sh prepare   # here (no GPU needed): release build, stripped and xz'd binary
#                                # and the Vulkan/EGL loader packages, in .gpu/ and .gl/
#                                # (both ignored by git through .git/info/exclude)
#   benches/gpu/run.sh measure   # on the GPU machine, from the repository root, with .gpu and
#                                # .gl carried; writes $OUT/gpu-results.tgz (default ./gpu-out)
#
# measure runs, in order:
#   1. nvidia-smi and vulkaninfo --summary (the device and its limits);
#   2. train compare --model lenet|mlp --opt adabelief --backends flex,wgpu --epochs 1
#      (steady step time, images/s, warm-up = first steps with CubeCL's compilation and
#      autotuning, validation accuracy and loss divergence);
#   3. train compare --backends wgpu --epochs 2 at batch 64 and 256 for LeNet and the MLP
#      (epoch_seconds: the first epoch with autotuning, the second without);
#   4. benches/reference/torch_cuda_reference.py: the same models and optimizers in PyTorch on
#      CUDA, 54,000 images an epoch, batch 64 and 256.
# Each step's output is kept as *.txt and the compare reports as *.json, in gpu-results.tgz.
set -uo pipefail
cd "$(dirname "$0")/../.."

prepare() {
  set -e
  cargo build --release --bin train
  mkdir -p .gpu
  strip -o .gpu/train target/release/train
  xz -T0 -f -9 .gpu/train
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >>.git/info/exclude
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo /.gl/ >>.git/info/exclude
  mkdir -p .gl /tmp/amd64/partial
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 vulkan-tools)
  ls -la .gpu .gl
}

measure() {
  # The device tool brings back at most 8 files from $OUT: the results are gathered in a work
  # folder and come back as one archive, gpu-results.tgz (the tables are also on stdout).
  local dest out=/tmp/gpu-results
  mkdir -p "${OUT:-gpu-out}" "$out"
  dest=$(realpath "${OUT:-gpu-out}")
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  local train=/tmp/ember-train
  xz -dc .gpu/train.xz >"$train" && chmod +x "$train"
  { nvidia-smi; vulkaninfo --summary; } >"$out/device.txt" 2>&1
  for model in lenet mlp; do
    "$train" compare --model "$model" --opt adabelief --backends flex,wgpu --epochs 1 \
      --run-dir "$out/compare-$model" 2>&1 | tee "$out/compare-$model.txt"
    cp "$out/compare-$model/compare.json" "$out/compare-$model.json" 2>/dev/null
    for batch in 64 256; do
      "$train" compare --model "$model" --opt adabelief --backends wgpu --epochs 2 \
        --batch-size "$batch" --run-dir "$out/wgpu-$model-$batch" 2>&1 |
        tee "$out/wgpu-$model-$batch.txt"
      cp "$out/wgpu-$model-$batch/compare.json" "$out/wgpu-$model-$batch.json" 2>/dev/null
    done
  done
  (cd benches/reference && PYTHONUNBUFFERED=1 python3 torch_cuda_reference.py \
    --models lenet,mlp --batches 64,256 --optimizers adabelief,adam \
    --json "$out/torch-cuda.json") 2>&1 | tee "$out/torch-cuda.txt"
  rm -rf "$out"/compare-lenet "$out"/compare-mlp "$out"/wgpu-*-*/
  tar -czf "$dest/gpu-results.tgz" -C "$(dirname "$out")" "$(basename "$out")"
  ls -la "$out" "$dest"
}

case "${1:-}" in
  prepare) prepare ;;
  measure) measure ;;
  *) echo "usage: benches/gpu/run.sh prepare|measure" >&2; exit 2 ;;
esac
