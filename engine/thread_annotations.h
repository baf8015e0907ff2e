// Clang thread-safety annotations (LevelDB port/thread_annotations.h style).
// Built with -Wthread-safety under clang; empty under other compilers.
#pragma once

#if defined(__clang__)
#define SNAPCOW_TSA(x) __attribute__((x))
#else
#define SNAPCOW_TSA(x)
#endif

#define CAPABILITY(x) SNAPCOW_TSA(capability(x))
#define SCOPED_CAPABILITY SNAPCOW_TSA(scoped_lockable)
#define GUARDED_BY(x) SNAPCOW_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) SNAPCOW_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) SNAPCOW_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) SNAPCOW_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) SNAPCOW_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SNAPCOW_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) SNAPCOW_TSA(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SNAPCOW_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SNAPCOW_TSA(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SNAPCOW_TSA(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) SNAPCOW_TSA(release_generic_capability(__VA_ARGS__))
#define EXCLUDES(...) SNAPCOW_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) SNAPCOW_TSA(assert_capability(x))
#define NO_THREAD_SAFETY_ANALYSIS SNAPCOW_TSA(no_thread_safety_analysis)
