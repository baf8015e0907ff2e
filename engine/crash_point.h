// Named crash points for the torture tests (issue 4). With SNAPCOW_CRASH_POINT=NAME:K in the
// environment, the K-th pass through CrashPoint("NAME") kills the process with SIGKILL, as
// `kill -9` would at that instant. Built in only with -DSNAPCOW_TEST_HOOKS (test builds; the
// package turns it off); otherwise CrashPoint is an empty inline function.
//
// The points, in the order a persistent copy passes them:
//   cow-data-written       a chunk's data is in the COW file, not yet flushed
//   journal-appended       a first origin write is in the write journal, not yet acknowledged
//   deferred-before-apply  its copies are durable, origin.img not yet written
//   deferred-applied       origin.img written, the journal record not yet marked
//   area-before-write      data flushed, the metadata area not yet written
//   area-after-write       area written, not yet flushed
//   header-before-rewrite  invalidating: header not yet rewritten
//   header-after-rewrite   header rewritten with valid = 0, not yet flushed
//   create-store-written   create: the new store is durable under its temporary name
//   create-renamed         create: renamed into place, not yet added
//   delete-before-unlink   delete: removed from the set, the file still there
//   delete-after-unlink    delete: the file is gone, the directory not yet flushed
#pragma once

namespace snapcow {

#ifdef SNAPCOW_TEST_HOOKS
void CrashPoint(const char* name);
// Unit tests: `hook` (nullptr: none) runs at every pass through any crash point, on the
// passing thread, so a test can act at that instant.
void SetCrashPointHook(void (*hook)(const char* name));
// Unit tests: `hook` (nullptr: none) is asked at every FaultPoint; true makes the step it
// names fail as if with EIO. Faults: "create-dir-sync" (a create's directory flush after the
// rename into place) and "create-undo-drop" (the undo of such a create: the store's invalid
// header write). Only a failed create-dir-sync reaches the crash point "create-undo-dropped"
// (the header says invalid, the name is not yet removed), so torture.py does not list it.
void SetFaultHook(bool (*hook)(const char* name));
bool FaultPoint(const char* name);
// True when this build has crash points (the torture test refuses to run without them).
inline constexpr bool kHaveCrashPoints = true;
#else
inline void CrashPoint(const char*) {}
inline bool FaultPoint(const char*) { return false; }
inline constexpr bool kHaveCrashPoints = false;
#endif

}  // namespace snapcow
