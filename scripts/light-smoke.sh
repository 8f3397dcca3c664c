#!/usr/bin/env bash
# The light install: `pip install .` with no extras, in a venv of its own, must stay under
# 400 MB and run the version-control core end to end (init, add, commit, log, diff --md, push
# to a file:// remote, clone, a metadata-only clone's diff, fsck); `mmvc process` in a gated
# repository must refuse with the extra-missing exit code (14) and its hint.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LIMIT_MB=${LIGHT_LIMIT_MB:-400}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH

# Build from a copy of the checkout (tracked and untracked, not ignored) so that nothing is
# written into the checkout itself.
mkdir "$work/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$work/src"
else
  tar --exclude=./.venv --exclude=./.git -cf - . | tar -xf - -C "$work/src"
fi
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work/src" 2>&1 | grep -v "is ignored" >&2 || true
"$work/venv/bin/python" -c "import mmvc" || { echo "light-smoke: pip install . failed" >&2; exit 1; }

size=$(du -sm "$work/venv" | cut -f1)
echo "light install: ${size} MB (limit ${LIMIT_MB} MB)"
echo "light install: $("$work/venv/bin/python" -m pip list --format=freeze 2>/dev/null | cut -d= -f1 | tr '\n' ' ')"
if [ "$size" -ge "$LIMIT_MB" ]; then
  echo "light-smoke: the light install is ${size} MB, over ${LIMIT_MB} MB" >&2
  exit 1
fi
"$work/venv/bin/python" - <<'EOF'
import importlib.util
from mmvc.core.extras import EXTRAS
there = sorted({m for mods in EXTRAS.values() for m in mods if importlib.util.find_spec(m)})
assert not there, f"the light install pulled in optional packages: {there}"
EOF

MMVC="$work/venv/bin/mmvc"
export MMVC_AUTHOR_NAME=ci MMVC_AUTHOR_EMAIL=ci@example.com MMVC_COMMITTER_NAME=ci MMVC_COMMITTER_EMAIL=ci@example.com
export XDG_CONFIG_HOME="$work/xdg"
step() { echo "+ mmvc $*" >&2; "$MMVC" "$@"; }
expect() {  # expect CODE TEXT ARGS…: the command exits CODE and its stderr mentions TEXT
  local code=$1 text=$2 rc=0
  shift 2
  echo "+ mmvc $* (expecting exit $code)" >&2
  "$MMVC" "$@" 2>"$work/err" || rc=$?
  cat "$work/err" >&2
  if [ "$rc" != "$code" ] || ! grep -qF -- "$text" "$work/err"; then
    echo "light-smoke: \`mmvc $*\` exited $rc (wanted $code with \"$text\")" >&2
    exit 1
  fi
}

cd "$work"
mkdir raw && cd raw
step init --ungated
mkdir captions
echo "a red apple on a table" > captions/apple.txt
echo "waves on the sea" > captions/sea.txt
step add captions
step commit -m "first cut"
echo "a green apple on a table" > captions/apple.txt
echo "a dog on a beach" > captions/dog.txt
step add captions
step commit -m "second cut"
step log --oneline
step diff HEAD~1 HEAD --md > "$work/diff.md"
grep -qF '`captions/dog.txt`' "$work/diff.md" || { echo "light-smoke: diff --md lacks the added item" >&2; exit 1; }
step remote add origin "file://$work/remote"
step push origin main
cd "$work"
step clone "file://$work/remote" copy
step -C copy log --oneline
cmp copy/captions/dog.txt raw/captions/dog.txt
step clone --filter blob:none --no-checkout "file://$work/remote" meta
step -C meta diff origin/main~1 origin/main --md > "$work/meta-diff.md"
grep -qF '`captions/dog.txt`' "$work/meta-diff.md" || { echo "light-smoke: the metadata-only clone's diff lacks the added item" >&2; exit 1; }
step -C copy fsck

mkdir gated && cd gated
step init
echo "a caption" > a.txt
step add a.txt
expect 14 "hint: pip install 'mmvc[process]'" process
expect 9 "mmvc process" commit -m "unprocessed"
echo "light-smoke: ok"
