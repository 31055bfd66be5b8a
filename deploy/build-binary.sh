#!/usr/bin/env bash
# Builds the one-file executable dist/school-chat: Python, every dependency, the web client
# (static/) and the embedded database (nx-27017, started as the same executable with a hidden
# command). Needs: python3.11 with pip, and binutils (objdump, strip) on Debian. Shared libraries
# are stripped of their symbols (uvloop's alone carries 12 MB of them). The IANA time zones
# (tzdata: each folder of zones is a package, loaded by zoneinfo at run time, so collected by
# name) make quiet hours work on machines without /usr/share/zoneinfo.
#   deploy/build-binary.sh            # installs requirements-build.txt, then builds
#   SKIP_PIP=1 deploy/build-binary.sh # when the build requirements are already installed
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
python="${PYTHON:-python3}"
if [ -z "${SKIP_PIP:-}" ]; then
  "$python" -m pip install -q --disable-pip-version-check -r requirements-build.txt
fi
rm -rf build/pyinstaller dist/school-chat
"$python" -m PyInstaller --noconfirm --clean --onefile --name school-chat \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" --specpath "$root/build" \
  --add-data "$root/static:static" \
  --collect-submodules chat --collect-submodules handlers \
  --collect-submodules nx_27017 --collect-submodules neosqlite \
  --collect-data tzdata --collect-submodules tzdata \
  --hidden-import prometheus_client --hidden-import hiredis \
  --exclude-module tkinter --exclude-module pytest --exclude-module hypothesis \
  --exclude-module playwright --exclude-module IPython --exclude-module numpy \
  --strip --log-level WARN \
  "$root/server.py"
ls -l dist/school-chat
dist/school-chat --version
