// TaskPool: a few threads that run commits of different snapshot stores side by side, so an
// origin write that copies into N snapshots waits for about one flush, not N in a row.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "engine/mutex.h"

namespace snapcow {

class TaskPool {
 public:
  explicit TaskPool(unsigned threads);
  ~TaskPool();  // runs what is queued, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void Run(std::function<void()> task) EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  Mutex mu_;
  CondVar work_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace snapcow
