// See progress.h.
#include "audit/progress.h"

#include <cstdio>

namespace memshield::audit {

void ProgressBar::update(size_t done, const std::string& current) {
  if (!enabled_ || total_ == 0) return;
  constexpr size_t kWidth = 30;
  const size_t filled = done * kWidth / total_;
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  fprintf(stderr, "\r\033[K[%s] %zu/%zu %s", bar.c_str(), done, total_, current.c_str());
  fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  drawn_ = false;
}

}  // namespace memshield::audit
