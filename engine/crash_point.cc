#include "engine/crash_point.h"

#ifdef SNAPCOW_TEST_HOOKS
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace snapcow {
namespace {

struct Armed {
  std::string name;
  long pass = 0;  // 0: disarmed
};

const Armed& Get() {
  static const Armed armed = [] {
    Armed a;
    const char* env = std::getenv("SNAPCOW_CRASH_POINT");
    if (env == nullptr) return a;
    const char* colon = std::strrchr(env, ':');
    if (colon == nullptr) return a;
    a.name.assign(env, colon);
    a.pass = std::strtol(colon + 1, nullptr, 10);
    return a;
  }();
  return armed;
}

std::atomic<long> g_passes{0};
std::atomic<void (*)(const char*)> g_hook{nullptr};
std::atomic<bool (*)(const char*)> g_fault_hook{nullptr};

}  // namespace

void SetCrashPointHook(void (*hook)(const char* name)) { g_hook.store(hook); }

void SetFaultHook(bool (*hook)(const char* name)) { g_fault_hook.store(hook); }

bool FaultPoint(const char* name) {
  auto hook = g_fault_hook.load();
  return hook != nullptr && hook(name);
}

void CrashPoint(const char* name) {
  if (auto hook = g_hook.load()) hook(name);
  const Armed& a = Get();
  if (a.pass <= 0 || a.name != name) return;
  if (g_passes.fetch_add(1) + 1 == a.pass) ::kill(::getpid(), SIGKILL);
}

}  // namespace snapcow
#endif
