#!/bin/sh
# The image's entrypoint, as tensorflow/serving's tf_serving_entrypoint.sh:
# serve MODEL_NAME from MODEL_BASE_PATH/MODEL_NAME, gRPC on 8500 and REST on
# 8501 on every interface of the container, then the arguments given to the
# container (a flag given again wins, so `--rest_api_port=0` turns REST off).
set -e
exec recship serve --host="${RECSHIP_HOST:-0.0.0.0}" --port=8500 --rest_api_port=8501 \
  --model_name="${MODEL_NAME}" --model_base_path="${MODEL_BASE_PATH}/${MODEL_NAME}" "$@"
