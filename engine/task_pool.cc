#include "engine/task_pool.h"

namespace snapcow {

TaskPool::TaskPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

TaskPool::~TaskPool() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
    work_.SignalAll();
  }
  for (auto& t : threads_) t.join();
}

void TaskPool::Run(std::function<void()> task) {
  MutexLock l(&mu_);
  queue_.push_back(std::move(task));
  work_.Signal();
}

void TaskPool::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      MutexLock l(&mu_);
      while (queue_.empty() && !stopping_) work_.Wait(&mu_);
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace snapcow
