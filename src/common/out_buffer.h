// Response bytes waiting to be written: a chain of blocks, so a large value is copied once and
// the whole backlog goes out in one writev. Protocol code appends; the network layer drains.
// A buffer holds standard blocks only while it has bytes to send: once drained they go back to
// a small per-thread stack (out_buffer.cc), so an idle connection costs no block, and the next
// reply on the thread, for any connection, reuses the block just sent from, still in cache.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace memshield {

class OutBuffer {
 public:
  static constexpr size_t kBlockSize = 16 * 1024;

  OutBuffer() = default;
  ~OutBuffer();
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;

  void append(const char* p, size_t n) {
    if (n == 0) return;
    if (n <= tail_room()) {
      Block& b = blocks_.back();
      memcpy(b.data.get() + b.end, p, n);
      b.end += n;
      size_ += n;
      return;
    }
    append_slow(p, n);
  }
  void append(std::string_view s) { append(s.data(), s.size()); }

  // Contiguous space for up to n bytes (n <= kBlockSize); follow with commit(used).
  char* reserve(size_t n) {
    if (n > tail_room() || blocks_.size() == head_) add_block(n);
    Block& b = blocks_.back();
    return b.data.get() + b.end;
  }
  void commit(size_t n) {
    blocks_.back().end += n;
    size_ += n;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Fills up to max iovecs with the pending bytes; returns how many.
  int fill_iov(struct iovec* iov, int max) const;
  // Drops n bytes that were written.
  void consume(size_t n);
  // Drops everything (connection closing).
  void clear();
  // Standard blocks cached for reuse by the calling thread (tests).
  static size_t cached_blocks();
  // Copies everything into one string (tests, UDP framing).
  std::string to_string() const;

 private:
  struct Block {
    std::unique_ptr<char[]> data;
    size_t cap = 0;
    size_t start = 0;
    size_t end = 0;
  };
  size_t tail_room() const {
    return blocks_.size() > head_ ? blocks_.back().cap - blocks_.back().end : 0;
  }
  void append_slow(const char* p, size_t n);
  void add_block(size_t min_size);
  void release_all();  // gives every block back (standard ones to the thread's cache)

  std::vector<Block> blocks_;
  size_t head_ = 0;  // first block with unsent bytes
  size_t size_ = 0;
};

}  // namespace memshield
