// See out_buffer.h.
#include "common/out_buffer.h"

#include <algorithm>
#include <string>

namespace memshield {

namespace {

// Drained standard blocks of this thread, most recently used on top. A worker serves one
// connection at a time, so a few cover unpipelined traffic; more are freed (a burst of
// connections with pending output each holds its own while it lasts).
class BlockCache {
 public:
  static constexpr size_t kMax = 16;
  std::unique_ptr<char[]> take() {
    if (blocks_.empty()) return std::unique_ptr<char[]>(new char[OutBuffer::kBlockSize]);
    std::unique_ptr<char[]> b = std::move(blocks_.back());
    blocks_.pop_back();
    return b;
  }
  void give(std::unique_ptr<char[]> b) {
    if (blocks_.size() < kMax) blocks_.push_back(std::move(b));
  }
  size_t size() const { return blocks_.size(); }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
};

BlockCache& block_cache() {
  thread_local BlockCache cache;
  return cache;
}

}  // namespace

OutBuffer::~OutBuffer() { release_all(); }

size_t OutBuffer::cached_blocks() { return block_cache().size(); }

void OutBuffer::release_all() {
  for (size_t k = 0; k < blocks_.size(); ++k) {
    Block& b = blocks_[k];
    if (b.cap == kBlockSize && b.data) block_cache().give(std::move(b.data));
  }
  blocks_.clear();
  head_ = 0;
  size_ = 0;
}

void OutBuffer::add_block(size_t min_size) {
  if (head_ > 0 && head_ == blocks_.size()) {
    // Everything was sent: start over without shifting.
    blocks_.clear();
    head_ = 0;
  }
  Block b;
  if (min_size <= kBlockSize) {
    b.cap = kBlockSize;
    b.data = block_cache().take();
  } else {
    b.cap = min_size;
    b.data.reset(new char[b.cap]);
  }
  blocks_.push_back(std::move(b));
}

void OutBuffer::append_slow(const char* p, size_t n) {
  // Fill what is left of the tail, then put the rest in one block (large values: one copy).
  size_t room = tail_room();
  if (room > 0 && n > kBlockSize) room = 0;  // keep big values in their own block
  if (room > 0) {
    Block& b = blocks_.back();
    memcpy(b.data.get() + b.end, p, room);
    b.end += room;
    size_ += room;
    p += room;
    n -= room;
  }
  add_block(n);
  Block& b = blocks_.back();
  memcpy(b.data.get(), p, n);
  b.end = n;
  size_ += n;
}

int OutBuffer::fill_iov(struct iovec* iov, int max) const {
  int i = 0;
  for (size_t k = head_; k < blocks_.size() && i < max; ++k) {
    const Block& b = blocks_[k];
    if (b.end == b.start) continue;
    iov[i].iov_base = b.data.get() + b.start;
    iov[i].iov_len = b.end - b.start;
    ++i;
  }
  return i;
}

void OutBuffer::consume(size_t n) {
  if (n == size_) {  // everything sent (the usual case): the blocks go back
    release_all();
    return;
  }
  size_ -= n;
  while (n > 0 && head_ < blocks_.size()) {
    Block& b = blocks_[head_];
    size_t avail = b.end - b.start;
    size_t take = std::min(avail, n);
    b.start += take;
    n -= take;
    if (b.start == b.end) {
      if (b.cap == kBlockSize) block_cache().give(std::move(b.data));
      b.data.reset();
      ++head_;
    }
  }
  if (head_ > 16 && head_ * 2 > blocks_.size()) {
    blocks_.erase(blocks_.begin(), blocks_.begin() + head_);
    head_ = 0;
  }
}

void OutBuffer::clear() { release_all(); }

std::string OutBuffer::to_string() const {
  std::string s;
  s.reserve(size_);
  for (size_t k = head_; k < blocks_.size(); ++k)
    s.append(blocks_[k].data.get() + blocks_[k].start, blocks_[k].end - blocks_[k].start);
  return s;
}

}  // namespace memshield
