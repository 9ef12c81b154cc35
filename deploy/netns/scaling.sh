#!/usr/bin/env bash
# Aggregate throughput with 1, 2 and 4 OSS hosts and the same two client hosts, each host a Linux network
# namespace on this machine (veth pairs to a bridge in a switch namespace; addresses in 10.213.0.0/24 exist only
# inside those namespaces). Needs root and iproute2. Prints a Markdown table.
#
#   sudo deploy/netns/scaling.sh [SIZE_MIB_PER_CLIENT] [OSS_COUNTS...]     default: 512 1 2 4
#
# Every host shares this machine's CPUs, memory bus and disk: the figures show the software path scaling (or
# not) with OSS count on one box, not what separate machines would do.
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE_MIB=${1:-512}
shift || true
COUNTS=("${@:-1 2 4}")
# shellcheck disable=SC2206
COUNTS=(${COUNTS[*]})
CLIENTS=2
SUBNET=10.213.0
PORT=9880
RUN="ls$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
WORK=$(mktemp -d /tmp/lustre-scaling-XXXXXX)
SHM=$(mktemp -d /dev/shm/lustre-scaling-XXXXXX)
NAMESPACES=()
PIDS=()

if [[ $EUID -ne 0 ]]; then echo "scaling.sh: needs root (ip netns)" >&2; exit 2; fi
command -v ip >/dev/null || { echo "scaling.sh: needs iproute2 (ip)" >&2; exit 2; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  NAMESPACES=()
}
trap 'cleanup; rm -rf "$WORK" "$SHM"' EXIT

echo "== build (Release)" >&2
dotnet build -c Release Lustre.Cli -v q -nologo >&2
LUSTRE=(dotnet "$PWD/Lustre.Cli/bin/Release/net10.0/lustre.dll")

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/secret"
export LUSTRE_SECRET
LUSTRE_SECRET=$(cat "$WORK/secret")

add_ns() { ip netns add "$1"; NAMESPACES+=("$1"); }

# add_host NAME OCTET: a namespace with eth0 at $SUBNET.OCTET, its veth peer on the switch's bridge.
add_host() {
  local ns="$RUN-$1"
  add_ns "$ns"
  ip -n "$RUN-sw" link add "v-$1" type veth peer name eth0 netns "$ns"
  ip -n "$RUN-sw" link set "v-$1" master br0 up
  ip -n "$ns" addr add "$SUBNET.$2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

# serve NS LOG ARGS...: a server in the background; waits for its start-up line.
serve() {
  local ns=$1 log=$2
  shift 2
  ip netns exec "$ns" "${LUSTRE[@]}" serve "$@" --secret-file "$WORK/secret" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    grep -q -e " up on " -e "^lustre: serving" "$log" && return 0
    sleep 0.1
  done
  echo "scaling.sh: server did not start:" >&2; cat "$log" >&2; exit 1
}

client() { local ns="$RUN-$1"; shift; ip netns exec "$ns" "${LUSTRE[@]}" "$@" --mgs "$SUBNET.1:$PORT/lustre"; }

now() { date +%s.%N; }

echo "== test data: $CLIENTS x $SIZE_MIB MiB in /dev/shm" >&2
for c in $(seq 0 $((CLIENTS - 1))); do
  head -c $((SIZE_MIB << 20)) /dev/urandom >"$SHM/src-c$c.bin"
done

echo "| OSS hosts | OSTs | clients | write MiB/s (aggregate) | read MiB/s (aggregate) |"
echo "|---:|---:|---:|---:|---:|"
for n in "${COUNTS[@]}"; do
  echo "== $n OSS host(s)" >&2
  rm -rf "${WORK:?}/data"
  add_ns "$RUN-sw"
  ip -n "$RUN-sw" link add br0 type bridge
  ip -n "$RUN-sw" link set br0 up
  add_host mds 1
  for i in $(seq 0 $((n - 1))); do add_host "oss$i" $((11 + i)); done
  for c in $(seq 0 $((CLIENTS - 1))); do add_host "c$c" $((21 + c)); done

  serve "$RUN-mds" "$WORK/mgs.log" --role mgs --data "$WORK/data/mgs" --listen "$SUBNET.1:$PORT"
  serve "$RUN-mds" "$WORK/mds.log" --role mds --data "$WORK/data/mds" --listen "$SUBNET.1:$((PORT + 1))" --mgs "$SUBNET.1:$PORT"
  for i in $(seq 0 $((n - 1))); do
    serve "$RUN-oss$i" "$WORK/oss$i.log" --role oss --data "$WORK/data/oss$i" --listen "$SUBNET.$((11 + i)):$((PORT + 2))" --mgs "$SUBNET.1:$PORT" --index "$i"
  done

  # Wait until the MDS has seen every OST (it re-reads the MGS every 2 s), then stripe everything over all.
  for _ in $(seq 1 100); do
    [[ $(client c0 lfs df | grep -c "OST:") -eq $n ]] && break
    sleep 0.2
  done
  sleep 2.5
  client c0 lfs setstripe -c -1 -S 1M / >&2

  # Each client writes its own file, all at once; then each reads another client's file, all at once.
  start=$(now)
  clients=()
  for c in $(seq 0 $((CLIENTS - 1))); do client "c$c" cp "$SHM/src-c$c.bin" "lustre:/c$c.bin" >&2 & clients+=($!); done
  for pid in "${clients[@]}"; do wait "$pid" || { echo "scaling.sh: a write failed" >&2; exit 1; }; done
  write=$(echo "$(now) - $start" | bc -l)

  start=$(now)
  clients=()
  for c in $(seq 0 $((CLIENTS - 1))); do client "c$c" cp "lustre:/c$(( (c + 1) % CLIENTS )).bin" "$SHM/back-c$c.bin" >&2 & clients+=($!); done
  for pid in "${clients[@]}"; do wait "$pid" || { echo "scaling.sh: a read failed" >&2; exit 1; }; done
  read_s=$(echo "$(now) - $start" | bc -l)
  for c in $(seq 0 $((CLIENTS - 1))); do
    cmp -s "$SHM/src-c$(( (c + 1) % CLIENTS )).bin" "$SHM/back-c$c.bin" || { echo "scaling.sh: read back differs" >&2; exit 1; }
  done
  rm -f "$SHM"/back-*.bin

  total=$((CLIENTS * SIZE_MIB))
  printf "| %d | %d | %d | %.0f | %.0f |\n" "$n" "$n" "$CLIENTS" "$(echo "$total / $write" | bc -l)" "$(echo "$total / $read_s" | bc -l)"
  cleanup
done
