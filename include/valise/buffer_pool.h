// BufferPool: a fixed set of equal, aligned buffers, allocated once. Every
// byte valise moves lives in one of them, so memory is bounded by
// count * size whatever the dataset's size. Buffers are registered with the
// ring by index (IoQueue::RegisterBuffers).
//
// Thread safety: Get/Put/TryGet may be called from any thread.
#pragma once

#include <sys/uio.h>

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "valise/status.h"

namespace valise {

class BufferPool {
 public:
  // Whether `count` buffers of `size` bytes fit: at most half of the
  // machine's memory and half of the address space ulimit -v allows
  // (the rest is the process's own: manifest, hashers, stacks).
  // InvalidArgument names the sizes and what sets them otherwise. A
  // pool that fits may still not be mapped: the constructor then throws
  // std::bad_alloc, which the command line turns into exit 2.
  static Status CheckFits(size_t count, size_t size);

  // REQUIRES: size is a multiple of 4096; count > 0.
  BufferPool(size_t count, size_t size);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  size_t buffer_size() const { return size_; }
  size_t count() const { return count_; }
  char* data(int index) const { return base_ + size_t(index) * size_; }
  // The iovecs to register with the ring, in index order.
  std::vector<iovec> iovecs() const;

  // An index of a free buffer, or -1 if none is free.
  int TryGet();
  // Blocks until a buffer is free.
  int Get();
  void Put(int index);
  size_t free_count();

 private:
  size_t count_;
  size_t size_;
  char* base_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> free_;
};

}  // namespace valise
