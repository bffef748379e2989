#!/usr/bin/env bash
# npm run deploy:azure -- <resource group> [more `az deployment group create` arguments]
# Runs after scripts/stage-function.cjs (the npm script stages first). Creates or updates the stack
# from main.json, then uploads the staged inference package to the *staging* slot — never to
# production: production changes only by the swap at the end of the code rollout (README.md).
# The guard package goes straight to the guard app, which serves no user traffic.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: npm run deploy:azure -- <resource group> [-p @prod.parameters.json] [-p apiKeyHashes=...]" >&2
  exit 2
fi
group=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
stage_dir="$here/../../.stage/azure"
[ -f "$stage_dir/modelfleet.zip" ] || { echo "no $stage_dir/modelfleet.zip: run npm run stage:azure" >&2; exit 1; }

deployment="modelfleet-$(date -u +%Y%m%d%H%M%S)"
az deployment group create --resource-group "$group" --name "$deployment" \
  --template-file "$here/main.json" "$@" --output none
output() {
  az deployment group show --resource-group "$group" --name "$deployment" \
    --query "properties.outputs.$1.value" --output tsv
}
app=$(output appName)
guard=$(output guardName)

az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
  --slot staging --src "$stage_dir/modelfleet.zip"
echo "staged on https://$app-staging.azurewebsites.net (production unchanged): continue with README.md, step 2"

if [ -f "$stage_dir/guard.zip" ]; then
  az functionapp deployment source config-zip --resource-group "$group" --name "$guard" --src "$stage_dir/guard.zip"
else
  echo "WARNING: no guard.zip staged (functions/azure/guard.ts is missing): model rollouts are not guarded" >&2
fi
