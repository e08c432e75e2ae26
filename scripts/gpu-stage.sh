#!/usr/bin/env bash
# Builds the engine here and stages what the GPU machine needs into DIR (a folder git ignores): the jars
# (JCuda's natives slimmed by shared/tools/gpu-jre.sh), stories260K and its golden ids, and the GPU scripts.
# The Java runtime comes from gpu-jre.sh, built once into DIR/../jre. Usage: gpu-stage.sh DIR
set -euo pipefail
dir=${1:?usage: gpu-stage.sh DIR}
mkdir -p "$dir" && dir="$(cd "$dir" && pwd)"   # absolute: the jar step below runs from another folder
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/java-env.sh"
shared="$root/../shared"
(cd "$root" && ./mvnw -B -q -ntp -DskipTests -pl inference-service -am package)
ls "$root/inference-service/target/classes/cuda/"*.fatbin >/dev/null || { echo "no fatbins: nvcc missing?" >&2; exit 2; }
jre="$(dirname "$dir")/jre"
[ -x "$jre/bin/java" ] || "$shared/tools/gpu-jre.sh" "$jre"
rm -rf "$dir"; mkdir -p "$dir/lib" "$dir/data/models" "$dir/data/golden"
(cd "$root/inference-service/target/classes" && "$JAVA_HOME/bin/jar" cf "$dir/lib/inference-service.jar" .)
# the engine needs only lethe-cache and JCuda (no Spring or Kafka): the carried folder stays a few MB
for j in "$root/inference-service/target/lib/"*.jar; do
  case "$(basename "$j")" in
    jcuda-natives-*) cp "$(dirname "$dir")/jcuda-natives-slim.jar" "$dir/lib/" ;;
    jcuda-*|lethe-cache-*) cp "$j" "$dir/lib/" ;;
  esac
done
cp "$shared/models/stories260K.gguf" "$dir/data/models/"
cp "$shared/golden/stories260K.greedy-golden.json" "$dir/data/golden/"
cp "$root/scripts/gpu-common.sh" "$root/scripts/gpu-test.sh" "$root/scripts/gpu-bench.sh" "$root/scripts/gpu_peer.py" "$dir/"
du -sh "$dir" "$jre"
