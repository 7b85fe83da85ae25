#include "valise/buffer_pool.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

namespace valise {

Status BufferPool::CheckFits(size_t count, size_t size) {
  uint64_t limit = UINT64_MAX;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) {
    limit = uint64_t(pages) * uint64_t(page) / 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    limit = std::min<uint64_t>(limit, rl.rlim_cur / 2);
  }
  const uint64_t want = uint64_t(count) * size;
  if (size != 0 && want / size == count && want <= limit) return Status::OK();
  return Status::InvalidArgument(
      "buffer pool",
      std::to_string(count) + " buffers of " + std::to_string(size >> 10) +
          " KiB (" + std::to_string(want >> 20) +
          " MiB: --depth per drive, --chunk-size, --threads) do not fit in "
          "memory: at most " +
          std::to_string(limit >> 20) +
          " MiB (half of RAM and of ulimit -v); lower --depth or "
          "--chunk-size");
}

BufferPool::BufferPool(size_t count, size_t size) : count_(count), size_(size) {
  // mmap gives page-aligned, zeroed memory that is returned to the system
  // on destruction; io_uring registration pins it.
  void* p = mmap(nullptr, count * size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<char*>(p);
  free_.reserve(count);
  for (size_t i = count; i > 0; --i) free_.push_back(static_cast<int>(i - 1));
}

BufferPool::~BufferPool() { munmap(base_, count_ * size_); }

std::vector<iovec> BufferPool::iovecs() const {
  std::vector<iovec> v(count_);
  for (size_t i = 0; i < count_; ++i) {
    v[i].iov_base = data(static_cast<int>(i));
    v[i].iov_len = size_;
  }
  return v;
}

int BufferPool::TryGet() {
  std::lock_guard<std::mutex> l(mu_);
  if (free_.empty()) return -1;
  int i = free_.back();
  free_.pop_back();
  return i;
}

int BufferPool::Get() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return !free_.empty(); });
  int i = free_.back();
  free_.pop_back();
  return i;
}

void BufferPool::Put(int index) {
  {
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(index);
  }
  cv_.notify_one();
}

size_t BufferPool::free_count() {
  std::lock_guard<std::mutex> l(mu_);
  return free_.size();
}

}  // namespace valise
