#!/usr/bin/env bash
# Step "books": load the public demo collection into Books. Loading once per repo URL
# (a marker), into one named collection, so a re-run neither fails nor doubles the
# content. A failure is reported but does not fail the run.
# Parameters: HB_BOOKS_REPO, HB_BOOKS_COLLECTION, HB_BOOKS_PROC, HB_INSTALL_TIMEOUT (overall time limit).
set -euo pipefail
hb_init

if ! hb_changed books.repo "$HB_BOOKS_REPO"; then
    hb_done "collection $HB_BOOKS_COLLECTION already loaded from $HB_BOOKS_REPO"
    exit 0
fi
if ! hc_proc_running "$HB_BOOKS_PROC"; then
    hb_done "WARNING: $HB_BOOKS_PROC is not running; demo content not loaded (re-run this step later)"
    exit 0
fi
hb_say "loading $HB_BOOKS_REPO into collection $HB_BOOKS_COLLECTION"
printf -- '--- import %s\n' "$HB_BOOKS_REPO" >>"$HB_LOG"
rc=0
export -f hc_books_import
timeout --kill-after=10 "$HB_INSTALL_TIMEOUT" bash -c '"$@"' _ hc_books_import "$HB_BOOKS_COLLECTION" "$HB_BOOKS_REPO" </dev/null >>"$HB_LOG" 2>&1 || rc=$?
if ((rc == 124 || rc == 137)); then
    hb_done "WARNING: loading the demo content from $HB_BOOKS_REPO did not finish within ${HB_INSTALL_TIMEOUT}s; stopped waiting, the run goes on without it"
    hb_tail "$HB_LOG"
    exit 0
fi
if ((rc != 0)); then
    hb_done "WARNING: loading the demo content failed (exit $rc); the run goes on without it"
    hb_tail "$HB_LOG"
    exit 0
fi
hb_mark books.repo "$HB_BOOKS_REPO"
hb_done "loaded $HB_BOOKS_REPO into collection $HB_BOOKS_COLLECTION"
