#!/usr/bin/env bash
# Build dist/wsserver: one self-contained executable (a shiv zipapp) that needs
# only a Python 3.11 runtime. Usage: scripts/build-single-file.sh [OUTPUT]
set -euo pipefail
cd "$(dirname "$0")/.."
output="${1:-dist/wsserver}"
mkdir -p "$(dirname "$output")"
python3 -m pip install -q "shiv==1.0.8"
python3 -m shiv --compressed --reproducible -p "/usr/bin/env python3" -e wsserver.ops.serve:main -o "$output" . -r requirements.txt
echo "built $output"
