#!/usr/bin/env bash
# The README's CLI walk-through, runnable as is: `npm run demo` (after `npm run build`, which
# `npm run demo` does). Everything goes to a scratch folder that is removed at the end (KEEP=1
# keeps it); nothing is written into the checkout or its ./model-repository.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO="$(mktemp -d "${TMPDIR:-/tmp}/modelfleet-demo-XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then echo "scratch folder: $DEMO"; else trap 'rm -rf "$DEMO"' EXIT; fi
export MODEL_REPOSITORY="$DEMO/repository"
modelfleet() { echo "+ modelfleet $*" >&2; node dist/scripts/cli.js "$@"; }

# three retrained stand-ins for versions 2-4: the iris weights with other biases
node dist/scripts/make-demo-models.js "$DEMO" >/dev/null

# read the signature from the model, hash it, run the sample and record its outputs
modelfleet package samples/iris/model.onnx --name iris --sample samples/iris/sample.json --features sepal_length,sepal_width,petal_length,petal_width --out "$DEMO/iris-pkg"
# publish as the next version (refuses to overwrite a version or re-publish the same artifact)
modelfleet publish "$DEMO/iris-pkg" --promote --stage prod
for v in 2 3 4; do
  modelfleet publish "$DEMO/iris-v$v.onnx" --name iris --sample samples/iris/request.json
done
modelfleet promote iris 2 --stage prod     # 100% to version 2; version 1 becomes lastKnownGood
modelfleet canary iris 3 --weight 10 --stage prod   # 10% to version 3 (raise it step by step)
modelfleet split iris a=2:50 b=3:30 c=4:20 --stage prod  # A/B/n test
modelfleet sticky iris --header x-user-id --stage prod   # each user keeps one variant
modelfleet shadow iris 4 --rate 0.2 --stage prod    # 20% of requests also run on 4; never returned
modelfleet list --stage prod                # models, versions, what the stage serves (--json too)
modelfleet show iris --stage prod           # the deployment and its history; `show iris 2`: a manifest
modelfleet verify                           # re-download and re-hash every artifact; exit 1 if one is bad
modelfleet rollback iris --stage prod       # back to lastKnownGood at once
