#!/usr/bin/env bash
# Vertex AI custom-container prediction with the modelfleet image: upload a model (the image and
# the folder Vertex copies into AIP_STORAGE_URI), then deploy it to an endpoint, alone or as a
# canary next to the model already deployed there. README.md next to this file explains each step.
set -euo pipefail

: "${PROJECT:?set PROJECT to the Google Cloud project}"
: "${REGION:?set REGION, e.g. europe-west1}"
: "${IMAGE:?set IMAGE to the modelfleet image in Artifact Registry}"
: "${ARTIFACT_URI:?set ARTIFACT_URI to gs://… holding the package (model.onnx + manifest.json) or a repository}"
MODEL_NAME="${MODEL_NAME:-modelfleet}"
ENDPOINT_NAME="${ENDPOINT_NAME:-modelfleet}"
MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-2}"
MIN_REPLICAS="${MIN_REPLICAS:-1}"
MAX_REPLICAS="${MAX_REPLICAS:-4}"
# With PREVIOUS_DEPLOYED_MODEL_ID set, the new model gets CANARY_PERCENT of the traffic and the
# previous one the rest; without it, the new model gets everything.
CANARY_PERCENT="${CANARY_PERCENT:-10}"
PREVIOUS_DEPLOYED_MODEL_ID="${PREVIOUS_DEPLOYED_MODEL_ID:-}"
SERVICE_ACCOUNT="${SERVICE_ACCOUNT:-}"

gcloud() { command gcloud --project "$PROJECT" "$@"; }

# Vertex sets AIP_HTTP_PORT, AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE and AIP_STORAGE_URI in the
# container; the server serves exactly those (SERVING_CONTRACT=vertex is also detected from them).
gcloud ai models upload \
  --region "$REGION" \
  --display-name "$MODEL_NAME" \
  --container-image-uri "$IMAGE" \
  --artifact-uri "$ARTIFACT_URI" \
  --container-ports 8080 \
  --container-env-vars "SERVING_CONTRACT=vertex,MODELFLEET_STAGE=prod,PLATFORM_CALLER_SCOPES=predict"

model_id="$(gcloud ai models list --region "$REGION" --filter "displayName=$MODEL_NAME" \
  --sort-by ~createTime --limit 1 --format 'value(name)')"

endpoint_id="$(gcloud ai endpoints list --region "$REGION" --filter "displayName=$ENDPOINT_NAME" \
  --format 'value(name)' | head -n 1)"
if [ -z "$endpoint_id" ]; then
  gcloud ai endpoints create --region "$REGION" --display-name "$ENDPOINT_NAME"
  endpoint_id="$(gcloud ai endpoints list --region "$REGION" --filter "displayName=$ENDPOINT_NAME" \
    --format 'value(name)' | head -n 1)"
fi

# "0" is the model being deployed in --traffic-split.
if [ -n "$PREVIOUS_DEPLOYED_MODEL_ID" ]; then
  traffic_split="0=${CANARY_PERCENT},${PREVIOUS_DEPLOYED_MODEL_ID}=$((100 - CANARY_PERCENT))"
else
  traffic_split="0=100"
fi

gcloud ai endpoints deploy-model "$endpoint_id" \
  --region "$REGION" \
  --model "$model_id" \
  --display-name "$MODEL_NAME" \
  --machine-type "$MACHINE_TYPE" \
  --min-replica-count "$MIN_REPLICAS" \
  --max-replica-count "$MAX_REPLICAS" \
  --autoscaling-metric-specs cpu-usage=60 \
  --traffic-split "$traffic_split" \
  ${SERVICE_ACCOUNT:+--service-account "$SERVICE_ACCOUNT"}

echo "deployed model $model_id to endpoint $endpoint_id ($traffic_split)"
