// See sd_notify.h. The socket name is a filesystem path, or an abstract name when it starts with
// '@' (the '@' becomes the leading NUL byte of sun_path), as sd_notify(3) describes.
#include "server/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace memshield::server {

bool sd_notify_send(std::string_view state) {
  const char* name = getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0') return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const size_t len = strlen(name);
  if ((name[0] != '/' && name[0] != '@') || len >= sizeof(sa.sun_path)) return false;
  memcpy(sa.sun_path, name, len);
  if (name[0] == '@') sa.sun_path[0] = '\0';
  const socklen_t sa_len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (name[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&sa), sa_len);
  close(fd);
  return n == static_cast<ssize_t>(state.size());
}

}  // namespace memshield::server
