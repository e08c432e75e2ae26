# Sourced by ./lethe and .ci/run: point JAVA_HOME at a JDK 25 (the machine's default java is older).
if [ -z "${JAVA_HOME:-}" ] || ! "${JAVA_HOME}/bin/java" -version 2>&1 | grep -q '"25'; then
  for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/java-25-openjdk-amd64; do
    if [ -x "$candidate/bin/java" ]; then export JAVA_HOME="$candidate"; break; fi
  done
fi
if [ -z "${JAVA_HOME:-}" ] || ! "${JAVA_HOME}/bin/java" -version 2>&1 | grep -q '"25'; then
  echo "lethe needs a JDK 25: set JAVA_HOME to one" >&2
  exit 2
fi
export PATH="$JAVA_HOME/bin:$PATH"
