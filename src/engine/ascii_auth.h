// The seam between the text session's authentication gate (-Y) and whatever holds the
// credentials: the engine asks one question and never sees the table.
#pragma once

#include <string_view>

namespace memshield::engine {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // True if `user` may log in with `password`. Called on worker threads, concurrently.
  virtual bool check(std::string_view user, std::string_view password) const = 0;
};

}  // namespace memshield::engine
