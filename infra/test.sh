#!/usr/bin/env bash
# `make test`: every check of the project, in timed phases, ending with a table of each
# phase's time. On two cores the CPU is what runs out, so nothing waits that need not:
# what waits on the network (the tools' venvs, Debian's Chromium) runs while the debug
# build compiles; the release packages, which nothing else needs, build from the start at
# the idle priority (SCHED_IDLE: they take only the CPU the others leave, in the build's
# narrow stretches and while the tests wait on their stacks, and give it back at once);
# the Rust tests and the contract tests run at once, each against a stack of its own.
# Clippy lints the workspace's crates inside the debug build itself (see the Makefile), so
# nothing compiles twice for it. Exits non-zero if any phase failed; each phase's output is
# in .run/test/<phase>.log, and a failed phase's last lines are printed.
set -uo pipefail
cd "$(dirname "$0")/.."

logs=.run/test
rm -rf "$logs" && mkdir -p "$logs"
t0=$(date +%s)
declare -A pid started ended status

# phase NAME CMD…: runs CMD in the foreground, logged and timed.
phase() {
  local name=$1; shift
  started[$name]=$(( $(date +%s) - t0 ))
  echo "== $name" >&2
  "$@" >"$logs/$name.log" 2>&1
  status[$name]=$?
  ended[$name]=$(( $(date +%s) - t0 ))
  [[ ${status[$name]} -eq 0 ]] || { echo "-- $name failed; its last lines:" >&2; tail -n 40 "$logs/$name.log" >&2; }
  return "${status[$name]}"
}

# background NAME CMD…: the same, started now and waited for by `finish NAME`.
background() {
  local name=$1; shift
  started[$name]=$(( $(date +%s) - t0 ))
  echo "== $name (beside the others)" >&2
  ( "$@" >"$logs/$name.log" 2>&1; echo $? >"$logs/$name.status"; date +%s >"$logs/$name.ended" ) &
  pid[$name]=$!
}

finish() {
  local name=$1
  wait "${pid[$name]}" 2>/dev/null || true
  status[$name]=$(cat "$logs/$name.status" 2>/dev/null || echo 1)
  ended[$name]=$(( $(cat "$logs/$name.ended" 2>/dev/null || date +%s) - t0 ))
  [[ ${status[$name]} -eq 0 ]] || { echo "-- $name failed; its last lines:" >&2; tail -n 40 "$logs/$name.log" >&2; }
  return "${status[$name]}"
}

order=(tools browser package format build lint-template contract tests package-check)
table() {
  local total=$(( $(date +%s) - t0 )) failed=0
  printf '\n%-14s %7s %7s %7s  %s\n' phase from to took result
  for name in "${order[@]}"; do
    local s=${started[$name]:-} e=${ended[$name]:-}
    if [[ -z $e ]]; then printf '%-14s %7s %7s %7s  %s\n' "$name" "${s:--}" - - "not run"; failed=1; continue; fi
    local result=ok
    [[ ${status[$name]} -eq 0 ]] || { result="FAILED (.run/test/$name.log)"; failed=1; }
    printf '%-14s %6ss %6ss %6ss  %s\n' "$name" "$s" "$e" "$(( e - s ))" "$result"
  done
  printf '%-14s %7s %7s %6ss  %s\n' total '' '' "$total" "$([[ $failed -eq 0 ]] && echo ok || echo FAILED)"
}
trap 'table >&2' EXIT

background tools make --no-print-directory -j4 tools
background browser make --no-print-directory browser
# SCHED_IDLE where the kernel lets us set it; the lowest nice value where it does not.
idle=(chrt --idle 0)
"${idle[@]}" true 2>/dev/null || idle=(nice -n 19)
background package "${idle[@]}" make --no-print-directory package-build
phase format cargo fmt --all --check || exit 1
phase build make --no-print-directory build || exit 1   # linted as it compiles (see the Makefile)
finish tools || exit 1

background lint-template make --no-print-directory lint-template lint-openapi
finish browser   # without Chromium the packet page's browser test says it skipped
background contract make --no-print-directory stack-contract
phase tests make --no-print-directory stack-tests
tests=$?
finish contract; contract=$?
finish lint-template; lint=$?
finish package && phase package-check make --no-print-directory package-check
package=$?
[[ $tests -eq 0 && $contract -eq 0 && $lint -eq 0 && $package -eq 0 ]]
