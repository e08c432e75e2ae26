# Sourced by gpu-test.sh and gpu-bench.sh: finds the Java runtime and the classpath, either in a staged
# folder (made by gpu-stage.sh, which puts these scripts beside lib/) or in a built checkout.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -d "$here/lib" ]; then
  cp="$here/lib/*"
  data="$here/data"
else
  root="$(cd "$here/.." && pwd)"
  cp="$root/inference-service/target/classes:$root/inference-service/target/lib/*"
  data="$root/../shared"
fi
java="${LETHE_GPU_JAVA:-}"
if [ -z "$java" ]; then
  for candidate in "$here/../jre/bin/java" "$here/jre/bin/java" "${JAVA_HOME:-/nonexistent}/bin/java"; do
    if [ -x "$candidate" ]; then java="$candidate"; break; fi
  done
fi
[ -n "$java" ] || { echo "no Java runtime: set LETHE_GPU_JAVA, or build one with shared/tools/gpu-jre.sh" >&2; exit 2; }
run_java() {
  # shellcheck disable=SC2086
  "$java" ${LETHE_JAVA_OPTS:-} --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -cp "$cp" "$@"
}
